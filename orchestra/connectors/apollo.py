"""Apollo.io adapter: organization enrichment, people search and people match for sales research.

Why: Apollo has no official MCP server, and agents need a compact, honest view of a company or a person — not
Apollo's hundred-field records. Each result carries `match_confidence` (0..1) derived only from what Apollo
returned (did the domain or email it echoed back match what was asked?) and `source: "apollo"`.

API (https://docs.apollo.io/reference): base https://api.apollo.io/api/v1, key in the `X-Api-Key` header.
  GET  /organizations/enrich?domain=      Organization Enrichment
  POST /mixed_people/api_search           People API Search (no credits; no emails; needs a master key)
  POST /people/match                      People Enrichment
Run: `python -m orchestra.connectors.apollo` (stdio) with APOLLO_API_KEY set.
"""

from __future__ import annotations

import re
from typing import Annotated, Any
from urllib.parse import urlsplit

from mcp.server.fastmcp import FastMCP
from mcp.types import ToolAnnotations
from pydantic import Field

from orchestra.connectors._http import Vendor, expect_object, request_json

APOLLO = Vendor(
    name="Apollo",
    base_url="https://api.apollo.io/api/v1",
    key_env="APOLLO_API_KEY",
    auth="header",
    auth_name="X-Api-Key",
    extra_headers=(("Cache-Control", "no-cache"),),
)

# Apollo's documented person_seniorities[] values.
SENIORITIES = (
    "owner",
    "founder",
    "c_suite",
    "partner",
    "vp",
    "head",
    "director",
    "manager",
    "senior",
    "entry",
    "intern",
)
_DOMAIN = re.compile(r"^(?=.{4,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+(?:[a-z]{2,63}|xn--[a-z0-9-]{1,59})$")
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,253}$")
_LOCKED_EMAIL = "email_not_unlocked@"
_MAX_TECHNOLOGIES = 25
_MAX_DESCRIPTION = 500

READ = ToolAnnotations(readOnlyHint=True, openWorldHint=True, idempotentHint=True)


def normalize_domain(value: str) -> str:
    """`acme.example` from inputs like `https://www.Acme.example/about`; ValueError when it is not a domain."""
    text = value.strip().lower()
    if not text:
        raise ValueError("domain is empty; pass a company domain like example.com")
    if "@" in text:
        raise ValueError(f"'{value.strip()}' looks like an email address; pass only the domain part, e.g. example.com")
    host = urlsplit(text if "//" in text else f"//{text}").hostname or ""
    host = host.removeprefix("www.").rstrip(".")
    if not _DOMAIN.match(host):
        raise ValueError(f"'{value.strip()}' is not a domain name like example.com")
    return host


def _host(url: Any) -> str | None:
    if not isinstance(url, str) or not url.strip():
        return None
    host = urlsplit(url if "//" in url else f"//{url}").hostname
    return host.removeprefix("www.") if host else None


def _location(record: dict[str, Any]) -> str | None:
    parts = [record.get(k) for k in ("city", "state", "country")]
    joined = ", ".join(p for p in parts if isinstance(p, str) and p)
    return joined or record.get("raw_address") or None


def _date(value: Any) -> str | None:
    return value[:10] if isinstance(value, str) and value else None


def _organization(org: dict[str, Any], requested: str) -> dict[str, Any]:
    primary = (org.get("primary_domain") or "").lower() or None
    website = _host(org.get("website_url"))
    if primary == requested:
        confidence, basis = 1.0, "primary_domain"
    elif website == requested:
        confidence, basis = 0.9, "website_url"
    else:
        # Apollo answered with a record whose domains differ (a parent company or a redirect).
        confidence, basis = 0.5, "apollo_lookup"
    technologies = [t.get("name") for t in org.get("current_technologies") or [] if isinstance(t, dict)]
    technologies = [t for t in technologies if t] or list(org.get("technology_names") or [])
    description = org.get("short_description") or org.get("seo_description")
    return {
        "found": True,
        "name": org.get("name"),
        "domain": primary or website,
        "website_url": org.get("website_url"),
        "linkedin_url": org.get("linkedin_url"),
        "industry": org.get("industry"),
        "employee_count": org.get("estimated_num_employees"),
        "founded_year": org.get("founded_year"),
        "location": _location(org),
        "annual_revenue": org.get("annual_revenue_printed"),
        "funding": {
            "total_usd": org.get("total_funding"),
            "total_printed": org.get("total_funding_printed"),
            "latest_stage": org.get("latest_funding_stage"),
            "latest_round_date": _date(org.get("latest_funding_round_date")),
        },
        "technologies": technologies[:_MAX_TECHNOLOGIES],
        "description": description[:_MAX_DESCRIPTION] if isinstance(description, str) else None,
        "apollo_id": org.get("id"),
        "match_confidence": confidence,
        "match_basis": basis,
        "source": "apollo",
    }


async def enrich_organization(
    domain: Annotated[str, Field(description="The company's web domain, e.g. example.com (no www., no @).")],
) -> dict[str, Any]:
    """Firmographics for one company from Apollo Organization Enrichment: name, industry, employee count,
    founded year, location, funding and technologies. match_confidence is 1.0 when Apollo's primary domain equals
    the domain asked for, 0.9 when only its website matches, 0.5 when Apollo answered with a differently-domained
    record; found=false (confidence 0) when Apollo has no such company. Consumes Apollo credits."""
    requested = normalize_domain(domain)
    body = expect_object(
        APOLLO, await request_json(APOLLO, "GET", "/organizations/enrich", params={"domain": requested})
    )
    org = body.get("organization")
    if not org:
        return {"found": False, "domain": requested, "match_confidence": 0.0, "source": "apollo"}
    return _organization(org, requested)


def _clean_list(values: list[str] | None, what: str, limit: int = 25) -> list[str]:
    cleaned = [v.strip() for v in values or [] if isinstance(v, str) and v.strip()]
    if len(cleaned) > limit:
        raise ValueError(f"at most {limit} {what} are allowed, got {len(cleaned)}")
    return cleaned


def _search_row(person: dict[str, Any], requested: str) -> dict[str, Any]:
    org = person.get("organization") or {}
    org_domain = (org.get("primary_domain") or "").lower() or _host(org.get("website_url"))
    last = person.get("last_name") or person.get("last_name_obfuscated")
    name = person.get("name") or " ".join(p for p in (person.get("first_name"), last) if p) or None
    echoed = org_domain == requested
    return {
        "apollo_id": person.get("id"),
        "name": name,
        "name_obfuscated": bool(person.get("last_name_obfuscated")) and not person.get("last_name"),
        "title": person.get("title"),
        "seniority": person.get("seniority"),
        "email": None,
        "has_email": person.get("has_email"),
        "linkedin_url": person.get("linkedin_url"),
        "organization_name": org.get("name"),
        # Apollo filtered on the domain; 1.0 only when the row also echoes it back.
        "match_confidence": 1.0 if echoed else 0.8,
        "match_basis": "organization_domain" if echoed else "organization_domain_filter",
    }


async def search_people(
    organization_domain: Annotated[
        str, Field(description="Domain of the employer to search within, e.g. example.com.")
    ],
    titles: Annotated[
        list[str] | None, Field(description="Job titles to match (any of them), e.g. ['head of sales', 'cto'].")
    ] = None,
    seniorities: Annotated[
        list[str] | None, Field(description=f"Seniority levels to match, any of: {', '.join(SENIORITIES)}.")
    ] = None,
    limit: Annotated[int, Field(ge=1, le=100, description="How many people to return (1-100).")] = 10,
) -> dict[str, Any]:
    """People at one company from Apollo People API Search, filtered by title and seniority. Apollo's search
    returns no emails and masks last names; use enrich_person on someone to reveal contact details. Does not
    consume credits, but needs an Apollo master API key."""
    requested = normalize_domain(organization_domain)
    title_list = _clean_list(titles, "titles")
    seniority_list = [s.lower() for s in _clean_list(seniorities, "seniorities", limit=len(SENIORITIES))]
    unknown = sorted(set(seniority_list) - set(SENIORITIES))
    if unknown:
        raise ValueError(f"unknown seniorities {unknown}; use any of: {', '.join(SENIORITIES)}")
    body: dict[str, Any] = {"q_organization_domains_list": [requested], "page": 1, "per_page": limit}
    if title_list:
        body["person_titles"] = title_list
    if seniority_list:
        body["person_seniorities"] = seniority_list
    answer = expect_object(APOLLO, await request_json(APOLLO, "POST", "/mixed_people/api_search", json_body=body))
    people = answer.get("people") or []
    total = answer.get("total_entries")
    if total is None:
        total = (answer.get("pagination") or {}).get("total_entries")
    return {
        "organization_domain": requested,
        "total_entries": total,
        "people": [_search_row(p, requested) for p in people[:limit] if isinstance(p, dict)],
        "source": "apollo",
    }


def _optional(value: str | None, what: str) -> str | None:
    if value is None:
        return None
    text = value.strip()
    if not text:
        raise ValueError(f"{what} is empty; leave it out or give a value")
    return text


def _person_confidence(
    person: dict[str, Any], email: str | None, first: str | None, last: str | None, domain: str | None
) -> tuple[float, str]:
    """How sure we are that Apollo's record is the person asked for, from what it echoed back."""
    returned_email = (person.get("email") or "").lower()
    if email and returned_email == email.lower():
        return 1.0, "email"
    names_match = bool(first and last) and (
        (person.get("first_name") or "").lower() == first.lower()
        and (person.get("last_name") or "").lower() == last.lower()
    )
    org = person.get("organization") or {}
    org_domain = (org.get("primary_domain") or "").lower() or _host(org.get("website_url"))
    if names_match and domain and org_domain == domain:
        return 0.9, "name+domain"
    if email:
        # Matched on an email Apollo did not reveal back to us.
        return 0.8, "email_unconfirmed"
    if names_match and domain:
        return 0.6, "name_only_domain_differs"
    if names_match:
        return 0.5, "name_only"
    return 0.3, "apollo_best_guess"


async def enrich_person(
    email: Annotated[str | None, Field(description="The person's work email, the strongest identifier.")] = None,
    first_name: Annotated[str | None, Field(description="First name; give it with last_name.")] = None,
    last_name: Annotated[str | None, Field(description="Last name; give it with first_name.")] = None,
    domain: Annotated[
        str | None, Field(description="Employer's domain, e.g. example.com; sharpens a name match.")
    ] = None,
) -> dict[str, Any]:
    """One person from Apollo People Enrichment (people/match): name, title, seniority, email, LinkedIn URL and
    employer. Give an email, or a first and last name (plus the employer's domain for a reliable match).
    match_confidence: 1.0 when Apollo's record carries the email asked for, 0.9 for name plus employer domain,
    lower for name-only matches; found=false when Apollo matched nobody. Consumes Apollo credits."""
    email = _optional(email, "email")
    first_name = _optional(first_name, "first_name")
    last_name = _optional(last_name, "last_name")
    requested_domain = normalize_domain(domain) if domain is not None else None
    if email and not _EMAIL.match(email):
        raise ValueError(f"'{email}' is not an email address")
    if not email and not (first_name and last_name):
        raise ValueError("give an email, or both first_name and last_name (with domain for a reliable match)")
    params = {"email": email, "first_name": first_name, "last_name": last_name, "domain": requested_domain}
    params = {k: v for k, v in params.items() if v}
    params.update(reveal_personal_emails="false", reveal_phone_number="false")
    answer = expect_object(APOLLO, await request_json(APOLLO, "POST", "/people/match", params=params))
    person = answer.get("person")
    if not person:
        return {"found": False, "match_confidence": 0.0, "source": "apollo"}
    confidence, basis = _person_confidence(person, email, first_name, last_name, requested_domain)
    returned_email = person.get("email")
    locked = isinstance(returned_email, str) and returned_email.startswith(_LOCKED_EMAIL)
    org = person.get("organization") or {}
    return {
        "found": True,
        "name": person.get("name"),
        "first_name": person.get("first_name"),
        "last_name": person.get("last_name"),
        "title": person.get("title"),
        "seniority": person.get("seniority"),
        "email": None if locked else returned_email,
        "email_status": "locked" if locked else person.get("email_status"),
        "linkedin_url": person.get("linkedin_url"),
        "location": _location(person),
        "organization": {
            "name": org.get("name"),
            "domain": (org.get("primary_domain") or None) or _host(org.get("website_url")),
            "industry": org.get("industry"),
        },
        "apollo_id": person.get("id"),
        "match_confidence": confidence,
        "match_basis": basis,
        "source": "apollo",
    }


def build_server() -> FastMCP:
    """The Apollo MCP server; built on demand so importing this module touches no environment or network."""
    server = FastMCP("apollo", instructions="Apollo.io company and people data for sales research.")
    server.add_tool(enrich_organization, annotations=READ)
    server.add_tool(search_people, annotations=READ)
    server.add_tool(enrich_person, annotations=READ)
    return server


def main() -> None:
    build_server().run("stdio")


if __name__ == "__main__":
    main()
