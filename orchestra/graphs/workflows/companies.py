"""Which companies a task is about, found the way a person would: by domain or name, in any case, partial or
misspelled, with the enrichment server's own answers (its match confidence and its "did you mean ...?").

Candidates come from the task's words (domains first, then capitalized names, then runs of words that are not
the task's own vocabulary); each is looked up until the wanted number of companies is found. A choice that was not
an exact match says so; when a name fits two companies, the run asks (an interrupt) instead of guessing.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import Any

from orchestra.graphs.approvals import ask_choice
from orchestra.graphs.evidence import Step

_DOMAIN = re.compile(r"\b((?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+(?:example|com|io|ai|co|net|org|dev|app))\b", re.I)
_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9&'-]*")
_SUGGESTIONS = re.compile(r"did you mean (.+?)\?")
_CHOICES = 5  # a question about an ambiguous name offers at most this many companies
# The words tasks are made of (asking, planning, comparing), never a company's name on their own.
_VOCABULARY = frozenset(
    re.findall(
        r"\w+",
        """a about account accounts add against all also an analysis analyze and any are as at be before between brief
    briefing by call calls can client closest company companies compare compared comparison compete competitive
    competitor competitors contact contacts crm customer customers deal deals do does email emails
    find for from get give go has have help how i in info information into is it its know landscape lead leads list
    look main market me meet meeting more most my need next now of on or our overview pipeline please prep prepare
    profile prospect prospects rank research rival rivals sales say see should show size stack stacks
    summarize summary tell than that the their them these they this to today tomorrow top up us vs versus want we
    week what when where which who why will with would you your whats page pages pricing price prices plan plans
    site website homepage screenshot take details phone number funding headcount""",
    )
)


@dataclass
class Found:
    """A company the task is about: its enrichment record, the evidence id, and how it was matched if not exactly."""

    company: dict[str, Any]
    evidence: str
    mention: str
    note: str | None = None


def candidate_mentions(task: str) -> list[str]:
    """Domains, then names as written (capitalized runs), then runs of other words; each once, case aside."""
    domains = [m.group(1).lower() for m in _DOMAIN.finditer(task)]
    text = _DOMAIN.sub(" , ", task)
    runs: list[list[str]] = [[]]
    for token in re.findall(r"[A-Za-z0-9][A-Za-z0-9&'-]*|[^\sA-Za-z0-9]", text):
        word = token.strip("'")
        if _WORD.fullmatch(token) and word.lower().removesuffix("'s") not in _VOCABULARY:
            runs[-1].append(word.removesuffix("'s"))
        elif runs[-1]:
            runs.append([])
    runs = [r[:4] for r in runs if r]
    # A run may carry a stray word ("Reserch Copealo Wroks"): the run without its first or last word comes next.
    runs += [part for r in runs if len(r) > 2 for part in (r[1:], r[:-1])]
    named = [" ".join(r) for r in runs if r[0][:1].isupper()]
    plain = [" ".join(r) for r in runs if not r[0][:1].isupper()]
    seen: set[str] = set()
    ordered = []
    for mention in [*domains, *named, *plain]:
        if mention.lower() not in seen and not mention.isdigit():
            seen.add(mention.lower())
            ordered.append(mention)
    return ordered


async def find_companies(step: Step, task: str, *, want: int, tries: int = 6) -> tuple[list[Found], list[str]]:
    """Up to `want` companies the task names, and the mentions tried that matched none."""
    found: list[Found] = []
    missed: list[str] = []
    for mention in candidate_mentions(task)[:tries]:
        if len(found) >= want:
            break
        hit = await look_up(step, mention)
        if hit is None:
            missed.append(mention)
        elif hit.company["domain"] not in {f.company["domain"] for f in found}:
            found.append(hit)
    return found, missed


async def look_up(step: Step, mention: str) -> Found | None:
    """One mention, resolved through enrichment: exact, fuzzy (with its confidence), or one of its suggestions."""
    key = "domain" if "." in mention and " " not in mention else "name"
    outcome = await step.call("bi", "enrichment", "enrich_organization", {key: mention}, quiet=True)
    if outcome is not None and isinstance(outcome[0], dict) and outcome[0].get("found") is not False:
        company, evidence = outcome
        confidence = company.get("match_confidence", 1.0)
        exact = confidence >= 1.0 and mention.lower() in (company["name"].lower(), company["domain"])
        matched = f"{company['name']} ({company['domain']})"
        note = None if exact else f"“{mention}” matched {matched}, confidence {confidence:g}"
        return Found(company, evidence, mention, note)
    suggestions = _suggested(step)
    fitting = [s for s in suggestions if s.lower().startswith(mention.lower())] or [
        s for s in suggestions if _resembles(mention, s)
    ]
    if not fitting:
        return await _from_crm(step, mention, suggestions)
    chosen = fitting[0] if len(fitting) == 1 else ask_choice(f"Which company do you mean by “{mention}”?", fitting)
    if chosen is None:
        return None
    outcome = await step.call("bi", "enrichment", "enrich_organization", {"name": chosen})
    if outcome is None or not isinstance(outcome[0], dict):
        return None
    if len(fitting) > 1:
        how = "chosen by the user among the enrichment source's suggestions"
    elif len(suggestions) == 1:
        how = "the only suggestion of the enrichment source"
    else:
        how = f"the one of the enrichment source's suggestions ({', '.join(suggestions)}) that resembles it"
    note = f"“{mention}” taken as {outcome[0]['name']} ({how})"
    return Found(outcome[0], outcome[1], mention, note)


async def _from_crm(step: Step, mention: str, suggestions: list[str]) -> Found | None:
    """The one CRM company whose name or domain contains the mention (our own records know names the enrichment
    source may spell differently); enriched by its domain. When the mention is a word of several companies' names
    ("Works"), the user is asked which, offered the closest of them."""
    if len(mention) < 4:
        return None
    search = {"objectType": "companies", "query": mention, "properties": ["name", "domain"], "limit": 10}
    found = await step.call("bi", "crm", "hubspot-search-objects", search, quiet=True)
    results = (found[0] or {}).get("results", []) if found and isinstance(found[0], dict) else []
    if len(results) > 1:
        return await _ask_among(step, mention, [str(r["properties"].get("name")) for r in results] + suggestions)
    if len(results) != 1 or not results[0]["properties"].get("domain"):
        return None
    domain = results[0]["properties"]["domain"]
    outcome = await step.call("bi", "enrichment", "enrich_organization", {"domain": domain})
    if outcome is None or not isinstance(outcome[0], dict):
        return None
    return Found(outcome[0], outcome[1], mention, f"“{mention}” found in our CRM as {outcome[0]['name']} ({domain})")


async def _ask_among(step: Step, mention: str, names: list[str]) -> Found | None:
    """Ask which of the companies whose names hold the mention as a word is meant (the closest few first)."""
    holding = {n.lower(): n for n in names if re.search(rf"\b{re.escape(mention)}\b", n, re.I)}
    closest = sorted(holding.values(), key=lambda n: -difflib.SequenceMatcher(None, mention.lower(), n.lower()).ratio())
    if len(closest) < 2:
        return None
    chosen = ask_choice(f"Which company do you mean by “{mention}”?", closest[:_CHOICES])
    outcome = await step.call("bi", "enrichment", "enrich_organization", {"name": chosen}) if chosen else None
    if outcome is None or not isinstance(outcome[0], dict):
        return None
    note = f"“{mention}” taken as {outcome[0]['name']} (chosen by the user among the companies of that name)"
    return Found(outcome[0], outcome[1], mention, note)


def _resembles(mention: str, name: str) -> bool:
    """Whether a suggested name shares its own word with the mention, as written, begun or misspelled ("kartai"
    for Kartia Works, "Stou" for Stouson Labs); a shared suffix alone ("Works", "Labs") is no resemblance."""
    own = name.split()[0].lower()
    words = [w.lower() for w in _WORD.findall(mention) if w.lower() not in _VOCABULARY]
    begun = any(len(w) >= 3 and own.startswith(w) for w in words)
    return begun or any(difflib.SequenceMatcher(None, w, own).ratio() >= 0.75 for w in words)


def _suggested(step: Step) -> list[str]:
    """The names in the last failed lookup's "did you mean A, B?"."""
    last = step.evidence[-1] if step.evidence else None
    match = _SUGGESTIONS.search(str(last["result"])) if last and not last["ok"] else None
    return [name.strip() for name in match.group(1).split(", ")] if match else []
