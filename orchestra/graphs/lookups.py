"""The common one-step questions of each domain, answered offline by fixed plans: no model needed to look up a
CRM count, a contact's details, a page's text or screenshot, the design files, the deployments, a warehouse
figure or the model prices.

No small model that installs here can drive tools, so offline these plans are what answers; each is one or two tool
calls chosen by the task's words, with the same evidence table and honesty line as the workflows. A task none of
them fits is refused with the exact tool call that would answer it (right tool, arguments filled in).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import re
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from orchestra.core.sql import sql_literal
from orchestra.graphs.evidence import Step, cite, counted, shorten
from orchestra.graphs.workflows.companies import candidate_mentions, find_companies
from orchestra.graphs.workflows.market_research import query

Answer = tuple[str, str]  # (title, body) of the report
_PAGES_AT_ONCE = 3  # a question about several companies' pages reads at most this many
# A role asked about instead of a person: "their CTO", "the head of data", "VP of Sales" (kept as written)
_ROLE = re.compile(
    r"\b(?P<title>C[ETFOMRI]O|CISO|founder|co-?founder|(?:VP|vice president|head|director) of [a-z]+(?: [a-z]+)?)\b",
    re.I,
)
_SPELLED_OUT = {"CEO": "Chief Executive Officer", "CTO": "Chief Technology Officer", "CFO": "Chief Financial Officer",
                "COO": "Chief Operating Officer", "CMO": "Chief Marketing Officer", "CRO": "Chief Revenue Officer",
                "CIO": "Chief Information Officer", "CISO": "Chief Information Security Officer"}  # fmt: skip
_MODEL_NAME = re.compile(r"\b(?:gpt-[\w.-]+|o[1-9](?:-mini)?|claude[\w.-]*|gemini[\w.-]*|mistral[\w.-]*|llama[\w.-]*)",
                         re.I)  # fmt: skip
_DRAFT = re.compile(r"\b(draft|write|compose|prepare)\b", re.I)
_URL = re.compile(r"https?://[^\s<>\"')]+")
_PERSON = re.compile(r"\b([A-Z][a-z]+) ([A-Z][a-z-]+)(?:'s)?\b")
_OPEN = [{"propertyName": "dealstage", "operator": "NEQ", "value": "closedwon"},
         {"propertyName": "dealstage", "operator": "NEQ", "value": "closedlost"}]  # fmt: skip


@dataclass(frozen=True)
class Lookup:
    """One fixed plan: the domain it serves, the words that choose it, and what it does."""

    domain: str
    pattern: re.Pattern[str]
    run: Callable[[Step, str], Awaitable[Answer | None]]


async def _crm_pages(step: Step, search: dict[str, Any], pages: int = 5) -> tuple[list[dict[str, Any]], int, str]:
    """Every result of a CRM search (up to `pages` pages of 100), the total, and the first page's evidence id."""
    results: list[dict[str, Any]] = []
    total, first, after = 0, "", None
    for _ in range(pages):
        page = {**search, "limit": 100, **({"after": after} if after else {})}
        found = await step.call("bi", "crm", "hubspot-search-objects", page)
        if found is None:
            break
        first = first or found[1]
        total = found[0].get("total", 0)
        results += found[0].get("results", [])
        after = (found[0].get("paging") or {}).get("next", {}).get("after")
        if not after:
            break
    return results, total, first


_PERIOD = re.compile(r"\b(this|next|last) (month|quarter|year)\b", re.I)
_YEAR = re.compile(r"(?<![\d-])(20\d\d)(?![\d-])")
_OVERDUE = re.compile(r"\b(overdue|past due|slipped|late)\b", re.I)
_WON = re.compile(r"\b(won|win|wins|winning|closed[- ]?won)\b", re.I)
_LOST = re.compile(r"\b(lost|lose|loses|losing|closed[- ]?lost)\b", re.I)
_REASONS = re.compile(r"\b(why|reasons?)\b", re.I)
# "deals for <company>", "our deals with <company>": the company whose deals are asked about.
_DEAL_COMPANY = re.compile(r"\b(?:for|at|with|from|of)\s+(?!(?:the |our )?crm\b)(.+)$", re.I)
# What a deal question may ask that no fixed plan applies: such a question is refused with the call, never
# answered with every open deal as if the filter had been applied.
_UNHANDLED_DEAL_FILTER = re.compile(
    r"\b(owned by|owner|rep|stage|stuck|over|above|below|under|more than|less than|at least|worth)\b", re.I
)
# The stage a deal question asks about: its filter, the noun for a count, and the filter in words.
_STAGES: dict[str, tuple[list[dict[str, Any]], str, str]] = {
    "open": (_OPEN, "open deal", "every stage but closed won and closed lost"),
    "closedwon": ([{"propertyName": "dealstage", "operator": "EQ", "value": "closedwon"}], "won deal",
                  "stage closed won"),
    "closedlost": ([{"propertyName": "dealstage", "operator": "EQ", "value": "closedlost"}], "lost deal",
                   "stage closed lost"),
    "closed": ([{"propertyName": "dealstage", "operator": "IN", "values": ["closedwon", "closedlost"]}],
               "closed deal", "stage closed won or closed lost"),
}  # fmt: skip

_JUDGEMENT = re.compile(r"\b(likely|why|risk\w*|should|best|worst|priorit\w+|most|least|healthy|forecast)\b", re.I)


def _stage_asked(task: str) -> str:
    """open, closedwon, closedlost or closed (both): the stage the task's words ask for; open unless they say."""
    won, lost = _WON.search(task), _LOST.search(task)
    closed = re.search(r"\bclosed\b", task, re.I) and not re.search(r"\bopen\b", task, re.I)
    if (won and lost) or (closed and not won and not lost):
        return "closed"
    return "closedwon" if won else "closedlost" if lost else "open"


def _deal_company(task: str) -> str | None:
    """The company named after "deals" ("the open deals for briium works"), without a period or year."""
    after = re.split(r"\bdeals?\b", task, maxsplit=1, flags=re.I)[-1]
    after = _YEAR.sub(" ", _PERIOD.sub(" ", after))
    named = _DEAL_COMPANY.search(after)
    company = re.sub(r"[?!.]+$", "", named.group(1)).strip() if named else ""
    return company or None


def _passes(props: dict[str, Any], filters: list[dict[str, Any]]) -> bool:
    """Whether a deal's properties pass the CRM-style filters (string comparison: stages and ISO dates)."""
    for f in filters:
        value, wanted = str(props.get(f["propertyName"]) or ""), f.get("value")
        if not {
            "EQ": value == wanted,
            "NEQ": value != wanted,
            "IN": value in f.get("values", []),
            "LT": value < str(wanted),
            "LTE": value <= str(wanted),
            "GTE": value >= str(wanted),
        }[f["operator"]]:
            return False  # fmt: skip
    return True


def _in_words(filters: list[dict[str, Any]]) -> str:
    """The filters as the report states them: `dealstage NEQ closedwon, closedate GTE 2025-01-01`."""
    return ", ".join(f"{f['propertyName']} {f['operator']} {f.get('value', f.get('values'))}" for f in filters)


def _window(as_of: dt.date, which: str, unit: str) -> tuple[dt.date, dt.date]:
    """The first and last day of this, next or last month, quarter or year, as of `as_of`."""
    shift = {"this": 0, "next": 1, "last": -1}[which]
    months = {"month": 1, "quarter": 3, "year": 12}[unit]
    start_month = (as_of.month - 1) // months * months + shift * months  # months since January of as_of's year
    first = dt.date(as_of.year + start_month // 12, start_month % 12 + 1, 1)
    after = first.month - 1 + months
    end = dt.date(first.year + after // 12, after % 12 + 1, 1) - dt.timedelta(days=1)
    return first, end


async def open_deals(step: Step, task: str) -> Answer | None:
    """Deals of the stage asked (open unless the task says won, lost or closed), of the company named, in the
    window asked (by close date); lost deals with their reasons when asked why."""
    stage = _stage_asked(task)
    reasons = stage in ("closedlost", "closed") and _REASONS.search(task)
    company_named = _deal_company(task)
    after_deals = re.split(r"\bdeals?\b", task, maxsplit=1, flags=re.I)[-1].replace(company_named or "\0", " ")
    period, year = _PERIOD.search(task), _YEAR.search(task)
    overdue = _OVERDUE.search(task) if stage == "open" else None
    if _JUDGEMENT.search(_REASONS.sub(" ", task) if reasons else task) or _UNHANDLED_DEAL_FILTER.search(after_deals):
        return None  # a judgement, or a filter this plan cannot apply: the refusal names the call
    # Close dates are judged against the date the CRM is current to, not this machine's clock.
    account = await step.call("bi", "crm", "hubspot-get-user-details", {})
    known = account is not None and isinstance(account[0], dict) and account[0].get("asOf")
    if not known and (period or overdue):
        return None
    as_of = dt.date.fromisoformat(str(account[0]["asOf"])[:10]) if account and known else None
    as_of_evidence = account[1] if account and known else None
    stage_filters, noun, stage_words = _STAGES[stage]
    filters, scope, figure_inputs = list(stage_filters), "", {}
    if as_of and overdue:
        filters.append({"propertyName": "closedate", "operator": "LT", "value": as_of.isoformat()})
        scope = f" overdue (expected to close before {as_of}, the date the CRM is current to)"
    elif (as_of and period) or year:
        if as_of and period:
            first, last = _window(as_of, period.group(1).lower(), period.group(2).lower())
            label = period.group(0).lower()
        else:
            first, last = dt.date(int(year.group(1)), 1, 1), dt.date(int(year.group(1)), 12, 31)  # type: ignore[union-attr]
            label = f"in {first.year}"
        filters += [{"propertyName": "closedate", "operator": "GTE", "value": first.isoformat()},
                    {"propertyName": "closedate", "operator": "LTE", "value": last.isoformat()}]  # fmt: skip
        current = f"; the CRM is current to {as_of}" if as_of else ""
        scope = (f" expected to close {label} ({first} to {last}{current})" if stage == "open"
                 else f" closed {label} (close date {first} to {last})")  # fmt: skip
    if len(filters) > len(stage_filters):
        figure_inputs = {"closedate": [f"{f['operator']} {f['value']}" for f in filters[len(stage_filters) :]]}
    properties = ["dealname", "dealstage", "amount", "closedate"] + (["closed_lost_reason"] if stage != "open" else [])
    company, company_note = None, ""
    if company_named:
        resolved = await _crm_company(step, company_named)
        if resolved is None:
            return None  # no CRM company by that name: the refusal names the call, with the name
        company, company_evidence, note = resolved
        company_note = f" ({note})" if note else ""
        association = {"objectType": "companies", "objectId": company["id"], "toObjectType": "deals"}
        linked = await step.call("bi", "crm", "hubspot-list-associations", association)
        if linked is None:
            return None
        deals = sorted((d for d in linked[0].get("results", []) if _passes(d["properties"], filters)),
                       key=lambda d: -float(d["properties"].get("amount") or 0))  # fmt: skip
        total, evidence = len(deals), step.computed(
            "filter", {"deals": linked[1], "company": company_evidence, "filters": _in_words(filters)},
            {"deals": [d["id"] for d in deals]})  # fmt: skip
        figure_inputs["company"] = company["properties"].get("name")
    else:
        search = {"objectType": "deals", "filterGroups": [{"filters": filters}], "properties": properties,
                  "sorts": [{"propertyName": "amount", "direction": "DESCENDING"}]}  # fmt: skip
        deals, total, evidence = await _crm_pages(step, search)
    if not evidence:
        return None
    amount = sum(float(d["properties"].get("amount") or 0) for d in deals)
    late = [d for d in deals if as_of and stage == "open" and str(d["properties"].get("closedate") or "9999") <
            as_of.isoformat()]  # fmt: skip
    key = {"open": "open_deals", "closedwon": "won_deals", "closedlost": "lost_deals", "closed": "closed_deals"}[stage]
    figure = step.computed("sum", {"of": "amount", "deals": evidence, **figure_inputs},
                           {key: total, "amount_usd": amount, "overdue": len(late)})  # fmt: skip
    lost = [d for d in deals if d["properties"].get("dealstage") == "closedlost"]
    rows = [f"| deal | stage | amount | {'expected close' if stage == 'open' else 'close date'} |"
            + (" lost reason |" if lost else ""), "| --- | --- | --- | --- |" + (" --- |" if lost else "")]  # fmt: skip
    for deal in deals[:15]:
        p = deal["properties"]
        close = f"{p.get('closedate')}" + (" (**overdue**)" if deal in late else "")
        rows.append(f"| {p.get('dealname')} | {p.get('dealstage')} | ${float(p.get('amount') or 0):,.0f} | "
                    f"{close} |" + (f" {p.get('closed_lost_reason') or '—'} |" if lost else ""))  # fmt: skip
    with_company = f" with {company['properties'].get('name')}{company_note}" if company else ""
    summary = (f"We have **{counted(total, noun)}**{with_company}{scope} ({stage_words}), "
               f"worth **${amount:,.0f}** in total{cite(as_of_evidence, evidence, figure)}.")  # fmt: skip
    if late and not overdue:  # an expected close date already passed is a finding, not a plan
        summary += (f" {counted(len(late), 'of them is', 'of them are')} overdue: the expected close date passed "
                    f"before {as_of}, the date the CRM is current to{cite(as_of_evidence, figure)}.")  # fmt: skip
    summary += f"\n\nFilter applied: `{_in_words(filters)}`" + (f" on the deals of {company['properties'].get('name')}"
                                                               if company else "") + "."  # fmt: skip
    if reasons:
        summary += "\n\n" + _lost_reasons(step, lost, evidence)
    body = summary + ("\n\nLargest first:\n\n" + "\n".join(rows) if deals else "")
    return f"{noun.capitalize()}s in the CRM", body


def _lost_reasons(step: Step, lost: list[dict[str, Any]], evidence: str) -> str:
    """Why the lost deals were lost, by the CRM's closed_lost_reason, most frequent first; or that it has none."""
    given = Counter(
        str(d["properties"]["closed_lost_reason"]) for d in lost if d["properties"].get("closed_lost_reason")
    )
    if not given:
        return f"The CRM records no reason for these losses (no closed_lost_reason on any of them){cite(evidence)}."
    unrecorded = len(lost) - sum(given.values())
    counts = {**dict(given.most_common()), **({"no reason recorded": unrecorded} if unrecorded else {})}
    figure = step.computed("count", {"of": "closed_lost_reason", "deals": evidence}, counts)
    lines = [f"- {reason}: {count}" for reason, count in given.most_common()]
    if unrecorded:
        lines.append(f"- no reason recorded: {unrecorded}")
    return f"Why they were lost (the CRM's closed_lost_reason){cite(evidence, figure)}:\n\n" + "\n".join(lines)


# Words of a CRM question around the company's name ("who owns the X account in the CRM").
_CRM_WORDS = re.compile(r"\b(how many|many|owns?|owned|owner|account|in the crm|crm|do we have)\b", re.I)


async def _crm_company(step: Step, text: str) -> tuple[dict[str, Any], str, str | None] | None:
    """The CRM company `text` names, its evidence id and how it was matched when not exactly: by the CRM's own
    search (name or domain, any case, partial when only one fits), else through the enrichment source's fuzzy
    match (a misspelling; it asks when two companies fit) and the CRM record of that domain."""
    properties = ["name", "domain", "hubspot_owner_id"]
    text = _CRM_WORDS.sub(" ", text)
    for mention in candidate_mentions(text)[:3]:
        search = {"objectType": "companies", "query": mention, "properties": properties, "limit": 10}
        found = await step.call("bi", "crm", "hubspot-search-objects", search, quiet=True)
        results = found[0].get("results", []) if found and isinstance(found[0], dict) else []
        exact = [r for r in results if mention.lower() in (str(r["properties"].get("name", "")).lower(),
                                                           r["properties"].get("domain"))]  # fmt: skip
        if found and exact:
            return exact[0], found[1], None
        if found and len(results) == 1 and len(mention) >= 4:
            return results[0], found[1], f"“{mention}” found in the CRM as {results[0]['properties'].get('name')}"
    hits, _ = await find_companies(step, text, want=1)
    if not hits:
        return None
    domain = hits[0].company["domain"]
    search = {"objectType": "companies", "query": domain, "properties": properties, "limit": 10}
    found = await step.call("bi", "crm", "hubspot-search-objects", search)
    match = [r for r in (found[0].get("results", []) if found else []) if r["properties"].get("domain") == domain]
    return (match[0], found[1], hits[0].note) if found and match else None


async def account_owner(step: Step, task: str) -> Answer | None:
    """Who owns a company's account in the CRM: the company's owner id, read from the CRM's owners."""
    resolved = await _crm_company(step, task)
    if resolved is None:
        return None
    company, evidence, note = resolved
    name, owner_id = company["properties"].get("name"), company["properties"].get("hubspot_owner_id")
    how = f" ({note})" if note else ""
    if not owner_id:
        return f"No owner for {name}", f"The CRM records no owner for {name}{how}{cite(evidence)}."
    read = {"objectType": "owners", "inputs": [{"id": str(owner_id)}]}
    owner = await step.call("bi", "crm", "hubspot-batch-read-objects", read)
    if owner is None or not owner[0].get("results"):
        return None
    p = owner[0]["results"][0]["properties"]
    return f"Owner of {name}", (f"{name}'s account owner in the CRM is **{p.get('firstname')} {p.get('lastname')}** "
                                f"({p.get('email')}){how}{cite(evidence, owner[1])}.")  # fmt: skip


async def company_contacts(step: Step, task: str) -> Answer | None:
    """The contacts our CRM has at a company (its associated contacts), counted and listed."""
    named = re.search(r"\bcontacts?\b.*?\b(?:at|for|with|from)\s+(.+)$", task, re.I)
    resolved = await _crm_company(step, named.group(1)) if named else None
    if resolved is None:
        return None
    company, evidence, note = resolved
    name = company["properties"].get("name")
    association = {"objectType": "companies", "objectId": company["id"], "toObjectType": "contacts"}
    linked = await step.call("bi", "crm", "hubspot-list-associations", association)
    if linked is None:
        return None
    contacts = linked[0].get("results", [])
    lines = [f"- **{c['properties'].get('firstname')} {c['properties'].get('lastname')}**: "
             f"{c['properties'].get('jobtitle') or 'no title'}, email {c['properties'].get('email') or 'unknown'}"
             for c in contacts[:25]]  # fmt: skip
    how = f" ({note})" if note else ""
    listed = ":\n\n" + "\n".join(lines) if lines else "."
    count = f"We have **{counted(len(contacts), 'contact')}** at {name} in the CRM{how}{cite(evidence, linked[1])}"
    return f"Contacts at {name}", count + listed


async def _role_holders(step: Step, task: str, role: re.Match[str]) -> Answer:
    """Who holds a role ("their CTO", "the head of data at Masa Data") at each company the task names, from the
    enrichment source's people search; offline, writing to them is left to the user (it needs a model)."""
    title = role.group("title")
    rest = task[: role.start()] + " " + task[role.end() :]
    companies, _ = await find_companies(step, rest, want=_PAGES_AT_ONCE)
    if not companies:
        return f"Whose {title}?", f"Name the company whose {title} you mean (e.g. “the {title} of <company>”)."
    lines = []
    for hit in companies:
        titles = [title, *([_SPELLED_OUT[title.upper()]] if title.upper() in _SPELLED_OUT else [])]
        arguments = {"organization_domain": hit.company["domain"], "titles": titles, "limit": 3}
        people = await step.call("bi", "enrichment", "search_people", arguments)
        found = (people[0] or {}).get("people", []) if people and isinstance(people[0], dict) else []
        where = cite(hit.evidence, people[1] if people else None)
        if not found:
            lines.append(f"- {hit.company['name']}: the enrichment source lists no {title}{where}")
        for person in found:
            lines.append(f"- {hit.company['name']}: **{person['name']}**, {person['title']}, email "
                         f"{person.get('email') or 'unknown'}{where}")  # fmt: skip
    drafting = _DRAFT.search(task)
    intro = ("Writing the message needs a model, and none is configured, so it is not drafted here. "
             "Who to write to:\n\n") if drafting else ""  # fmt: skip
    return f"The {title} of {', '.join(hit.company['name'] for hit in companies)}", intro + "\n".join(lines)


def _person_named(task: str) -> tuple[str, str] | None:
    """The first and last name of the person the task asks about, capitalized or not ("gabriel delacroix's")."""
    capitalized = [(f, last) for f, last in _PERSON.findall(task) if f not in ("What", "Who", "Find", "Give")]
    if capitalized:
        return capitalized[0]
    pairs = [m.split() for m in candidate_mentions(task) if len(m.split()) == 2 and "." not in m]
    return (pairs[0][0], pairs[0][1]) if pairs else None


async def contact_details(step: Step, task: str) -> Answer | None:
    if role := _ROLE.search(task):
        return await _role_holders(step, task, role)
    named = _person_named(task)
    if named is None:
        return None
    first, last = named
    found = await _crm_contacts(step, first, last)
    if (found is None or not found[0].get("results")) and last.lower().endswith("s") and len(last) > 3:
        found = await _crm_contacts(step, first, last[:-1])  # "jia ashdowns phone": a possessive without its '
    if found is not None and found[0].get("results"):
        phone = bool(re.search(r"\b(phone|call|number)\b", task, re.I))
        lines = []
        for contact in found[0]["results"][:5]:
            p = contact["properties"]
            reach = f", phone {p.get('phone') or 'none on record'}" if phone else ""
            at = f" at {p['company']}" if p.get("company") else ""
            lines.append(f"- **{p.get('firstname')} {p.get('lastname')}**: {p.get('jobtitle') or 'no title'}{at}, "
                         f"email {p.get('email') or 'unknown'}{reach}{cite(found[1])}")  # fmt: skip
        shown = found[0]["results"][0]["properties"]
        several = len(found[0]["results"])
        if several > 1:  # two people of the same name: each with their company, none chosen for the user
            lines.insert(0, f"The CRM has {several} contacts named {first} {last}; name the company to pick one:\n")
        return f"Contact: {shown.get('firstname')} {shown.get('lastname')}", "\n".join(lines)
    missing = f"The CRM has no contact named {first} {last}{cite(found[1] if found else None)}."
    return await _enriched_person(step, task, first, last, missing)


async def _crm_contacts(step: Step, first: str, last: str) -> tuple[Any, str] | None:
    same_name = [{"propertyName": "firstname", "operator": "EQ", "value": first},
                 {"propertyName": "lastname", "operator": "EQ", "value": last}]  # fmt: skip
    search = {"objectType": "contacts", "filterGroups": [{"filters": same_name}],
              "properties": ["firstname", "lastname", "email", "jobtitle", "phone", "company"]}  # fmt: skip
    return await step.call("bi", "crm", "hubspot-search-objects", search)


async def _enriched_person(step: Step, task: str, first: str, last: str, missing: str) -> Answer:
    """Someone our CRM does not know, looked up in the enrichment source at the company the task names."""
    rest = re.sub(rf"\b{re.escape(first)}\s+{re.escape(last)}(?:'s)?", " ", task, flags=re.I)
    companies, _ = await find_companies(step, rest, want=1)
    if not companies:
        return await _person_by_name(step, first, last, missing)
    company = companies[0].company
    arguments = {"first_name": first, "last_name": last, "domain": company["domain"]}
    person = await step.call("bi", "enrichment", "enrich_person", arguments)
    if person is None or not isinstance(person[0], dict):
        return (
            f"No contact named {first} {last}",
            f"{missing} The enrichment source has no {first} {last} at "
            f"{company['name']} either{cite(person[1] if person else None)}.",
        )
    p, evidence = person[0], person[1]
    confidence = p.get("match_confidence", 1)
    certainty = "" if confidence >= 1 else f" (a partial match, confidence {confidence:g})"
    title = p.get("title") or "no title"
    return f"Contact: {p['name']}", (
        f"{missing} The enrichment source knows them{certainty}:\n\n- **{p['name']}**: {title} at {company['name']}, "
        f"email {p.get('email') or 'unknown'}{cite(companies[0].evidence, evidence)}")  # fmt: skip


async def _person_by_name(step: Step, first: str, last: str, missing: str) -> Answer:
    """Someone the CRM does not know and the task places at no company: the enrichment source's match on the name
    alone; when several people share it, each of them with their company (none is chosen for the user)."""
    person = await step.call("bi", "enrichment", "enrich_person", {"first_name": first, "last_name": last}, quiet=True)
    record = person[0] if person and isinstance(person[0], dict) else {}
    people = record.get("candidates") or ([record] if record.get("name") and record.get("found") is not False else [])
    if not people:
        return f"No contact named {first} {last}", (
            f"{missing} Name their company (e.g. “{first} {last} at <company>”) to look them up in the "
            "enrichment source.")  # fmt: skip
    lines = [f"- **{p['name']}**: {p.get('title') or 'no title'} at {(p.get('organization') or {}).get('name')} "
             f"({(p.get('organization') or {}).get('domain')}), email {p.get('email') or 'unknown'}{cite(person[1])}"  # type: ignore[index]
             for p in people]  # fmt: skip
    if len(people) > 1:
        intro = (f"{missing} The enrichment source knows {len(people)} people named {first} {last}; name the company "
                 f"(“{first} {last} at <company>”) to pick one:")  # fmt: skip
        return f"{len(people)} people named {first} {last}", intro + "\n\n" + "\n".join(lines)
    confidence = people[0].get("match_confidence", 1)
    return f"Contact: {people[0]['name']}", (
        f"{missing} The enrichment source knows one {first} {last}, matched on the name alone (confidence "
        f"{confidence:g}; name the company to be sure):\n\n" + lines[0])  # fmt: skip


async def _sites_of(step: Step, task: str, want: int) -> list[tuple[str, str | None]]:
    """The URLs the task gives, or the websites of (at most `want`) companies it names, each with the enrichment
    evidence."""
    urls = [url.rstrip(".,;") for url in _URL.findall(task)][:want]
    if urls:
        return [(url, None) for url in urls]
    found, _ = await find_companies(step, task, want=want)
    return [(hit.company["website_url"], hit.evidence) for hit in found]


async def page_text(step: Step, task: str) -> Answer | None:
    """What the pages say: of each company the task names ("their pricing page" of a comparison is two pages)."""
    sites = await _sites_of(step, task, want=_PAGES_AT_ONCE)
    if not sites:
        return None
    sections = []
    for url, company_evidence in sites:
        if "pricing" in task.lower() and "/pricing" not in url:
            url = url.rstrip("/") + "/pricing/"
        page = await step.call("web", "fetch", "fetch", {"url": url, "max_length": 6000})
        if page is None:
            sections.append(f"The page {url} could not be fetched; see the evidence table.")
            continue
        text = str(page[0]).split("\n", 1)[-1].strip()
        sections.append(f"Read from {url}{cite(company_evidence, page[1])}:\n\n{shorten(text, 3000 // len(sites))}")
    title = f"What {sites[0][0]} says" if len(sites) == 1 else f"What the {len(sites)} pages say"
    return title, "\n\n".join(sections)


async def screenshot(step: Step, task: str) -> Answer | None:
    sites = await _sites_of(step, task, want=1)
    if not sites:
        return None
    url, company_evidence = sites[0]
    if await step.call("web", "browser", "browser_navigate", {"url": url}) is None:
        return f"Could not open {url}", "The browser could not open the page; see the evidence table."
    name = re.sub(r"[^a-z0-9]+", "-", url.lower()).strip("-")[:60] + f"-{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%S}.png"
    saved = step.context.screenshots_dir / name
    shot = await step.call("web", "browser", "browser_take_screenshot", {"filename": str(saved), "fullPage": True})
    if shot is None or not await asyncio.to_thread(saved.exists):
        return f"Could not take a screenshot of {url}", "The screenshot failed; see the evidence table."
    where = saved
    return (
        f"Screenshot of {url}",
        f"A full-page screenshot of {url} is saved as `{where}`{cite(company_evidence, shot[1])}.",
    )


async def design_files(step: Step, task: str) -> Answer | None:
    listed = await step.call("design", "design", "list_figma_files", {})
    if listed is None:
        return None
    rows = ["| file | key | frames |", "| --- | --- | --- |"]
    for file in listed[0].get("files", []):
        frames = ", ".join(f["name"] for f in file.get("frames", []))
        rows.append(f"| {file['name']} | `{file['fileKey']}` | {frames} |")
    return "Design files", f"The design files{cite(listed[1])}:\n\n" + "\n".join(rows)


async def deployments(step: Step, task: str) -> Answer | None:
    listed = await step.call("design", "deploy", "list_deployments", {})
    if listed is None:
        return None
    items = listed[0].get("deployments", [])
    rows = ["| deployment | project | created | production | url |", "| --- | --- | --- | --- | --- |"]
    rows += [f"| `{d['id']}` | {d['project']} | {d['created_at']} | {'yes' if d['is_production'] else 'no'} | "
             f"{d['url']} |" for d in items[:20]]  # fmt: skip
    if not items:
        return "Deployments", f"There are no deployments yet{cite(listed[1])}."
    return "Deployments", f"{counted(len(items), 'deployment')}, newest first{cite(listed[1])}:\n\n" + "\n".join(rows)


async def customers(step: Step, task: str) -> Answer | None:
    """The customer count, narrowed to the industry, segment or country the task names (the warehouse's own values);
    a narrowing it cannot read ("customers in <something unknown>") is refused, never answered with the total."""
    where, narrowed, evidence = "is_customer", "", []
    asked = re.search(r"\bcustomers?\b.*?\b(?:in|from|based in|within)\s+(?:the\s+)?(.+)$", task, re.I)
    if asked:
        wanted = re.sub(r"[^\w\s-]", " ", asked.group(1)).strip().lower()
        values, listed = await query(step, "SELECT DISTINCT industry, segment, hq_country FROM accounts")
        evidence.append(listed)
        columns = (("segment", "segment"), ("industry", "industry"), ("hq_country", "country"))
        named = [(column, row[column], label) for column, label in columns for row in values
                 if row[column] and re.search(rf"\b{re.escape(row[column].lower())}\b", wanted)]  # fmt: skip
        match = named[0] if named else None
        if match is None:
            return None
        column, value, label = match
        where += f" AND {column} = {sql_literal(value)}"
        narrowed = f" in the {value} {label}" if label != "country" else f" headquartered in {value}"
    if _LISTING.search(task) and not re.search(r"\b(how many|number of|count)\b", task, re.I):
        return await _customer_list(step, where, narrowed, evidence)
    found, counted_by = await query(step, f"SELECT count(*) AS customers FROM accounts WHERE {where}")
    if not found:
        return None
    count = found[0]["customers"]
    return ("Customers", f"We have **{counted(count, 'customer')}**{narrowed} (accounts with a closed-won deal)"
                         f"{cite(*evidence, counted_by)}.")  # fmt: skip


_LISTING = re.compile(r"\b(list|show|which|who are|name)\b", re.I)


async def _customer_list(step: Step, where: str, narrowed: str, evidence: list[str | None]) -> Answer | None:
    """The customers themselves, by name, with the narrowing applied."""
    sql = f"SELECT company_name, industry, segment, hq_country FROM accounts WHERE {where} ORDER BY company_name"
    found, listed_by = await query(step, sql)
    if listed_by is None:
        return None
    rows = ["| customer | industry | segment | country |", "| --- | --- | --- | --- |"]
    rows += [f"| {r['company_name']} | {r['industry']} | {r['segment']} | {r['hq_country']} |" for r in found[:50]]
    more = f"\n\n(the first 50 of {len(found):,})" if len(found) > 50 else ""
    table = ":\n\n" + "\n".join(rows) + more if found else "."
    return "Customers", (f"**{counted(len(found), 'customer')}**{narrowed} (accounts with a closed-won deal)"
                         f"{cite(*evidence, listed_by)}{table}")  # fmt: skip


async def model_prices(step: Step, task: str) -> Answer | None:
    listed = await step.call("ai", "models", "list_models", {})
    if listed is None:
        return None
    rows = ["| tier | model | usable | input $/1M tokens | output $/1M tokens |", "| --- | --- | --- | --- | --- |"]
    for tier in listed[0].get("tiers", []):
        for m in tier["models"]:
            prices = f"{m.get('input_usd_per_million_tokens')} | {m.get('output_usd_per_million_tokens')}"
            rows.append(f"| {tier['tier']} | {m['model']} | {'yes' if m.get('usable') else 'no key'} | {prices} |")
    configured = "\n".join(rows)
    asked = [m.group(0) for m in _MODEL_NAME.finditer(task)]
    if not asked or any(name.lower() in configured.lower() for name in asked):
        return "Models and prices", f"The configured models{cite(listed[1])}:\n\n{configured}"
    found = await step.call("ai", "models", "search_model_catalog", {"query": asked[0], "limit": 100})
    known = (found[0] or {}).get("models", []) if found and isinstance(found[0], dict) else []
    exact = {asked[0].lower(), f"openai/{asked[0].lower()}"}  # the model asked about first, then its variants
    known = sorted(known, key=lambda m: (m["model"].lower() not in exact, len(m["model"])))[:5]
    catalog = [f"- {m['model']}: input ${m.get('input_usd_per_million_tokens')}, output "
               f"${m.get('output_usd_per_million_tokens')} per million tokens{cite(found[1])}"
               for m in known if found]  # fmt: skip
    evidence = cite(found[1] if found else None)
    where = "\n".join(catalog) or f"- The catalog has no model named like {asked[0]}{evidence}."
    return f"Prices of {asked[0]}", (
        f"{asked[0]} is not one of the configured models. From LiteLLM's price catalog:\n\n{where}\n\n"
        f"The configured models{cite(listed[1])}:\n\n{configured}")  # fmt: skip


def _words(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.I)


LOOKUPS = (
    Lookup("bi", _words(r"\b(who owns|owner of|account owner)\b(?!.*\bdeals?\b)"), account_owner),
    Lookup("bi", _words(r"\b(how many|number of|count|list|show|which|who are)\b.{0,30}\bcontacts\b"),
           company_contacts),
    Lookup("bi", _words(r"\b(how many|number of|count|list|show|what|which)\b.{0,40}\bdeals?\b"), open_deals),
    Lookup("bi", _words(r"\b(e-?mail|phone|title|contact details?|reach)\b"), contact_details),
    Lookup("bi", _words(r"\b(how many|number of|count|list|show|which|who are|name)\b.{0,20}\bcustomers?\b"),
           customers),
    Lookup("web", _words(r"\bscreenshot\b"), screenshot),
    Lookup("web", _words(r"\b(what'?s on|what does|read|text of|content of|pricing pages?|what is on)\b"), page_text),
    Lookup("bi", _words(r"\b(pricing pages?|what'?s on)\b"), page_text),
    Lookup("design", _words(r"\b(list|show|which|what)\b.{0,30}\b(figma|design)\s*(files?|designs?)?\b"),
           design_files),
    Lookup("design", _words(r"\bdeployments?\b"), deployments),
    # Model prices only when the task is about models: "compare pricing of acme.example and ..." is not.
    Lookup("ai", _words(r"\b(models?|llms?|tokens?|gpt[-\w.]*|claude|gemini|openai|anthropic|mistral|llama)\b"),
           model_prices),
)  # fmt: skip


def lookup_for(domain: str, task: str) -> Lookup | None:
    """The fixed plan for the task: one of its triaged domain first, else any whose words fit (the rules may file
    "what is Dana Quist's email?" under pure language work; the plan's words are the stronger signal)."""
    fitting = [plan for plan in LOOKUPS if plan.pattern.search(task)]
    return next((plan for plan in fitting if plan.domain == domain), fitting[0] if fitting else None)


# The call that would answer what no plan covers, by the task's words: (words, pool, tool, arguments of the task);
# a hint whose arguments the task does not give (None) gives way to the next that fits.
_GROUPS = {"industry": "industry", "industries": "industry", "segment": "segment", "segments": "segment",
           "country": "hq_country", "countries": "hq_country", "size": "size_band",
           "stage": "funding_stage"}  # fmt: skip


def _deal_hint(task: str) -> dict[str, Any]:
    filters = list(_STAGES[_stage_asked(task)][0])
    if year := _YEAR.search(task):
        filters += [{"propertyName": "closedate", "operator": "GTE", "value": f"{year.group(1)}-01-01"},
                    {"propertyName": "closedate", "operator": "LTE", "value": f"{year.group(1)}-12-31"}]  # fmt: skip
    company = _deal_company(task)
    mention = next(iter(candidate_mentions(_CRM_WORDS.sub(" ", company))), None) if company else None
    properties = ["dealname", "dealstage", "amount", "closedate", "closed_lost_reason", "hubspot_owner_id"]
    named = {"query": mention} if mention else {}
    return {"objectType": "deals", **named, "filterGroups": [{"filters": filters}], "properties": properties}


def _contact_hint(task: str) -> dict[str, Any] | None:
    named = _person_named(task)
    at = re.search(r"\b(?:at|for|with|from)\s+(.+)$", task, re.I)
    company = next(iter(candidate_mentions(_CRM_WORDS.sub(" ", at.group(1)))), None) if at else None
    properties = ["firstname", "lastname", "email", "jobtitle", "company"]
    if company and (not named or f"{named[0]} {named[1]}".lower() in company.lower()):
        filters = [{"propertyName": "company", "operator": "CONTAINS_TOKEN", "value": company}]
        return {"objectType": "contacts", "filterGroups": [{"filters": filters}], "properties": properties}
    if named:
        filters = [{"propertyName": "firstname", "operator": "EQ", "value": named[0]},
                   {"propertyName": "lastname", "operator": "EQ", "value": named[1]}]  # fmt: skip
        return {"objectType": "contacts", "filterGroups": [{"filters": filters}], "properties": properties}
    return None


def _company_hint(task: str) -> dict[str, Any] | None:
    """The CRM's record of the company the task names (its owner, lifecycle stage, domain)."""
    mention = next(iter(candidate_mentions(_CRM_WORDS.sub(" ", task))), None)
    return {"objectType": "companies", "query": mention, "properties": ["name", "domain", "hubspot_owner_id",
            "lifecyclestage"]} if mention else None  # fmt: skip


def _warehouse_hint(task: str) -> dict[str, Any]:
    """Revenue by quarter (ours, recognized) unless the task groups companies by a column of `accounts`."""
    by = re.search(r"\bby (industry|industries|segments?|country|countries|size|stage)\b", task, re.I)
    if by:
        column = _GROUPS[by.group(1).lower()]
        return {"sql": f"SELECT {column}, count(*) AS companies, sum(estimated_revenue_usd) AS revenue_usd "
                       f"FROM accounts GROUP BY {column} ORDER BY revenue_usd DESC"}  # fmt: skip
    return {"sql": "SELECT quarter, sum(revenue_usd) AS revenue_usd FROM revenue_by_quarter GROUP BY quarter "
                   "ORDER BY quarter"}  # fmt: skip


def _page_hint(task: str) -> dict[str, Any] | None:
    url = _URL.search(task)
    domain = re.search(r"\b((?:[a-z0-9-]+\.)+(?:example|com|io|ai|co|net|org|dev|app))\b", task, re.I)
    return {"url": url.group(0) if url else f"https://{domain.group(1).lower()}/"} if url or domain else None


def _enrich_hint(task: str) -> dict[str, Any] | None:
    domain = re.search(r"\b((?:[a-z0-9-]+\.)+(?:example|com|io|ai|co|net|org|dev|app))\b", task, re.I)
    mention = next(iter(candidate_mentions(task)), None)
    return {"domain": domain.group(1).lower()} if domain else {"name": mention} if mention else None


_HINTS: tuple[tuple[str, str, str, Callable[[str], dict[str, Any] | None]], ...] = (
    (r"deal|pipeline|opportunit", "crm", "hubspot-search-objects", _deal_hint),
    (r"contact|person|people|email|phone", "crm", "hubspot-search-objects", _contact_hint),
    (r"\bowns?\b|owner|account manager|lifecycle", "crm", "hubspot-search-objects", _company_hint),
    (r"customer", "warehouse", "execute_query", lambda _: {
        "sql": "SELECT industry, segment, hq_country, count(*) AS customers FROM accounts WHERE is_customer "
               "GROUP BY ALL ORDER BY customers DESC"}),
    (r"revenue|warehouse|market|segment|quarter|sql", "warehouse", "execute_query", _warehouse_hint),
    (r"figma|design|frame|component", "design", "list_figma_files", lambda _: {}),
    (r"deploy", "deploy", "list_deployments", lambda _: {}),
    (r"https?://|page|site|url|browse|click|screenshot", "browser", "browser_navigate", _page_hint),
    (r"model|llm|price|cost|budget|spend", "models", "list_models", lambda _: {}),
    (r"company|firmographic|enrich|industry|funding", "enrichment", "enrich_organization", _enrich_hint),
)  # fmt: skip


def tool_hint(task: str) -> str:
    """The exact call a user can make now, with `orchestra tools call`, for a task no plan answers: the right tool,
    with the arguments the task gives (never a placeholder)."""
    lowered = task.lower()
    for words, pool, tool, arguments_of in _HINTS:
        if re.search(words, lowered) and (arguments := arguments_of(task)) is not None:
            return f"`orchestra tools call {tool} '{json.dumps(arguments)}' --pool {pool}`"
    return "`orchestra tools list` (to find the tool), then `orchestra tools call TOOL '{...}' --pool POOL`"
