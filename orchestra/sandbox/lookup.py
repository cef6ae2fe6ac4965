"""Finding a company of the demo world by what a user or agent types: a domain, a name, or close to one."""

from __future__ import annotations

import difflib
import re

from orchestra.sandbox.model import Company, World

_DOMAIN = re.compile(r"^(?=.{4,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


def normalize_domain(text: str) -> str:
    """`https://www.Acme.example/about` -> `acme.example`; raises ValueError for something that is not a domain."""
    domain = re.sub(r"^[a-z]+://", "", text.strip().lower()).split("/")[0].removeprefix("www.")
    if not _DOMAIN.match(domain):
        raise ValueError(f"{text!r} is not a domain; write it like acme.example")
    return domain


def find_company(world: World, text: str) -> tuple[Company, float]:
    """The company meant by `text` and how sure the match is (1.0 exact domain or name, less when fuzzy)."""
    wanted = text.strip()
    if not wanted:
        raise ValueError("company is empty; give a name like 'Brurex Analytics' or a domain like brurex.example")
    if "." in wanted and " " not in wanted:
        domain = normalize_domain(wanted)
        for company in world.companies:
            if company.domain == domain:
                return company, 1.0
        raise ValueError(f"no company with domain {domain}; search by name instead")
    by_name = {c.name.lower(): c for c in world.companies}
    if wanted.lower() in by_name:
        return by_name[wanted.lower()], 1.0
    close = difflib.get_close_matches(wanted.lower(), list(by_name), n=3, cutoff=0.6)
    if not close and len(wanted) >= 3:  # the start of a name ("Brin"): each company whose name begins so
        close = [name for name in by_name if name.startswith(wanted.lower())][:5]
    if close:
        ratio = difflib.SequenceMatcher(None, wanted.lower(), close[0]).ratio()
        if ratio >= 0.85:
            return by_name[close[0]], round(ratio, 2)
        names = ", ".join(by_name[c].name for c in close)
        raise ValueError(f"no company named {wanted!r}; did you mean {names}?")
    raise ValueError(f"no company named {wanted!r} in the sandbox world")
