"""The sandbox's company and people enrichment, shaped like Apollo.io's (the real adapter has the same tools).

Run: `python -m orchestra.sandbox.servers.enrichment [--data-dir DIR]`.
"""

from __future__ import annotations

import os
from typing import Annotated, Any

from mcp.server.fastmcp import FastMCP
from mcp.server.fastmcp.exceptions import ToolError
from mcp.types import ToolAnnotations
from pydantic import Field

from orchestra.sandbox.lookup import find_company, normalize_domain
from orchestra.sandbox.model import Company, Person
from orchestra.sandbox.paths import SandboxPaths
from orchestra.sandbox.servers._common import WorldSource, sandbox_paths

READ = ToolAnnotations(readOnlyHint=True, idempotentHint=True, openWorldHint=False)
SENIORITIES = ["c_suite", "vp", "director", "manager", "senior", "entry"]


def website_url(company: Company) -> str:
    """Where the company's site really is: on the sandbox host when one is known, else its own domain."""
    host = os.environ.get("ORCHESTRA_SANDBOX_URL", "").rstrip("/")
    return f"{host}/sites/{company.domain}/" if host else f"https://{company.domain}/"


def organization(company: Company, confidence: float, as_of: str) -> dict[str, Any]:
    rounds = [vars(r) for r in company.funding_rounds]
    return {
        "name": company.name, "domain": company.domain, "industry": company.industry,
        "sub_industry": company.sub_industry, "description": company.description,
        "employee_count": company.employees, "size_band": company.size_band, "founded_year": company.founded_year,
        "location": {"city": company.hq_city, "country": company.hq_country},
        "estimated_annual_revenue_usd": company.revenue_usd, "revenue_band": company.revenue_band,
        "funding": {"total_usd": company.total_funding_usd, "rounds": rounds, "stage": company.funding_stage,
                    "latest_round": rounds[-1]["round"] if rounds else None},
        "technologies": company.tech_stack, "website_url": website_url(company),
        "match_confidence": confidence, "source": "sandbox", "as_of": as_of,
    }  # fmt: skip


def person_record(person: Person, company: Company, confidence: float) -> dict[str, Any]:
    return {
        "name": person.name, "first_name": person.first_name, "last_name": person.last_name, "title": person.title,
        "seniority": person.seniority, "department": person.department, "email": person.email,
        "linkedin_url": person.linkedin_url, "organization": {"name": company.name, "domain": company.domain},
        "match_confidence": confidence, "source": "sandbox",
    }  # fmt: skip


def build_server(paths: SandboxPaths) -> FastMCP:
    server = FastMCP("sandbox-enrichment", instructions="Apollo-style enrichment of the sandbox world's companies.")
    world = WorldSource(paths)

    def company_for(domain: str | None, name: str | None) -> tuple[Company, float]:
        if not (domain or name):
            raise ToolError("give a domain (acme.example) or a company name")
        try:
            return find_company(world.get(), normalize_domain(domain) if domain else name or "")
        except ValueError as exc:
            raise ToolError(str(exc)) from None

    @server.tool(annotations=READ)
    def enrich_organization(
        domain: Annotated[str | None, Field(description="Company web domain, e.g. brurex.example")] = None,
        name: Annotated[str | None, Field(description="Company name, when the domain is unknown")] = None,
    ) -> dict[str, Any]:
        """Firmographics of one company: industry, size, location, founding, funding (stage, rounds), revenue,
        technologies; as_of is the date they are current to."""
        return organization(*company_for(domain, name), world.get().as_of)

    @server.tool(annotations=READ)
    def search_people(
        organization_domain: Annotated[str, Field(description="The company's domain")],
        titles: Annotated[list[str] | None, Field(description="Title keywords, e.g. ['VP', 'Head of Data']")] = None,
        seniorities: Annotated[list[str] | None, Field(description=f"Any of {SENIORITIES}")] = None,
        limit: Annotated[int, Field(ge=1, le=100, description="At most this many people")] = 10,
    ) -> dict[str, Any]:
        """People at a company, optionally filtered by title keywords and seniority."""
        company, confidence = company_for(organization_domain, None)
        unknown = sorted(set(seniorities or []) - set(SENIORITIES))
        if unknown:
            raise ToolError(f"unknown seniorities {unknown}; use any of {SENIORITIES}")
        people = [
            p for p in world.get().people_at(company.id)
            if (not titles or any(t.lower() in p.title.lower() for t in titles))
            and (not seniorities or p.seniority in seniorities)
        ]  # fmt: skip
        people.sort(key=lambda p: SENIORITIES.index(p.seniority))
        return {
            "organization": {"name": company.name, "domain": company.domain},
            "total": len(people),
            "people": [person_record(p, company, confidence) for p in people[:limit]],
        }

    @server.tool(annotations=READ)
    def enrich_person(
        email: Annotated[str | None, Field(description="Work email")] = None,
        first_name: Annotated[str | None, Field(description="First name (with last_name and domain)")] = None,
        last_name: Annotated[str | None, Field(description="Last name")] = None,
        domain: Annotated[str | None, Field(description="Company domain")] = None,
    ) -> dict[str, Any]:
        """One person by email, or by name at a company domain, with a match confidence. A name without a domain
        matches on the name alone (as Apollo's people/match does); when several people share it, none is chosen:
        found is false and `candidates` lists each of them with their company."""
        data = world.get()
        if email:
            match = next((p for p in data.people if p.email == email.strip().lower()), None)
            if match is None:
                raise ToolError(f"no person with email {email}; try first_name, last_name and domain")
            return person_record(match, data.company(match.company_id), 1.0)
        if not (first_name and last_name):
            raise ToolError("give an email, or first_name, last_name and domain")
        if not domain:
            named = [p for p in data.people if (p.first_name.lower(), p.last_name.lower())
                     == (first_name.strip().lower(), last_name.strip().lower())]  # fmt: skip
            if not named:
                raise ToolError(
                    f"no {first_name} {last_name} in the sandbox world; check the spelling or give a domain"
                )
            if len(named) == 1:
                return person_record(named[0], data.company(named[0].company_id), 0.5)
            candidates = [person_record(p, data.company(p.company_id), 0.5) for p in named]
            return {
                "found": False,
                "match_confidence": 0.0,
                "candidates": candidates,
                "source": "sandbox",
                "message": f"{len(named)} people are named {first_name} {last_name}; give the domain to pick one",
            }
        company, _ = company_for(domain, None)
        candidates = [p for p in data.people_at(company.id) if p.last_name.lower() == last_name.strip().lower()]
        exact = [p for p in candidates if p.first_name.lower() == first_name.strip().lower()]
        if exact:
            return person_record(exact[0], company, 1.0 if len(exact) == 1 else 0.5)
        if candidates:
            return person_record(candidates[0], company, 0.4)
        raise ToolError(f"no {first_name} {last_name} at {company.domain}; try search_people")

    return server


def main() -> None:
    build_server(sandbox_paths(__doc__ or "")).run("stdio")


if __name__ == "__main__":
    main()
