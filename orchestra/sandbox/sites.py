"""Each demo company's website as static HTML: home, about, team, pricing, compare, careers, blog, docs and a contact
form.

Pages link to each other with real links, listings are paginated, and the contact form posts to the sandbox host,
so browser agents have something real to navigate, read, click through and fill in.
"""

from __future__ import annotations

import random
from html import escape
from pathlib import Path

from orchestra.sandbox.model import Company, FundingRound, World

JOBS_PER_PAGE = 4
POSTS_PER_PAGE = 3
_SECTIONS = [("About", "about/"), ("Team", "team/"), ("Pricing", "pricing/"), ("Compare", "compare/"),
             ("Careers", "careers/"), ("Blog", "blog/"), ("Docs", "docs/"), ("Contact", "contact/")]  # fmt: skip
_ROLES = ["Senior Backend Engineer", "Product Designer", "Account Executive", "Data Scientist", "Solutions Engineer",
          "Customer Success Manager", "Site Reliability Engineer", "Marketing Manager", "Frontend Engineer",
          "Security Engineer", "Technical Writer", "Sales Development Rep"]  # fmt: skip
_CSS = (
    "body{font-family:Inter,Arial,sans-serif;margin:0;color:#1d2433}header,main,footer{padding:16px 48px}"
    "header{background:#101828;color:#fff}header a{color:#cbd5e1;margin-right:16px}nav{margin-top:8px}"
    ".plan,.job,.post,.person{border:1px solid #e4e7ec;border-radius:8px;padding:12px;margin:8px 0}"
    ".price{font-size:28px;font-weight:700}.cta{background:#4f46e5;color:#fff;padding:10px 16px;border-radius:6px}"
)


def site_path(company: Company) -> str:
    """The URL path prefix of a company's site on the sandbox host."""
    return f"/sites/{company.domain}/"


def _page(company: Company, title: str, body: str) -> str:
    root = site_path(company)
    nav = "".join(f'<a href="{root}{href}">{label}</a>' for label, href in _SECTIONS)
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)} | {escape(company.name)}'
        f'</title><meta name="description" content="{escape(company.tagline)}"><style>{_CSS}</style></head><body>'
        f'<header><a href="{root}"><strong>{escape(company.name)}</strong></a><nav>{nav}</nav></header>'
        f"<main><h1>{escape(title)}</h1>{body}</main>"
        f"<footer>&copy; {escape(company.name)} &middot; {escape(company.hq_city)}, {escape(company.hq_country)}"
        f' &middot; <a href="{root}contact/">Contact us</a></footer></body></html>'
    )


def _pager(base: str, page: int, pages: int) -> str:
    links = []
    if page > 1:
        links.append(f'<a rel="prev" href="{base}{"" if page == 2 else f"page/{page - 1}/"}">Previous</a>')
    if page < pages:
        links.append(f'<a rel="next" href="{base}page/{page + 1}/">Next</a>')
    return f'<p class="pager">Page {page} of {pages} {" ".join(links)}</p>'


def _paginated(out: Path, company: Company, section: str, title: str, items: list[str], per_page: int) -> None:
    pages = max(1, -(-len(items) // per_page))
    base = f"{site_path(company)}{section}/"
    for page in range(1, pages + 1):
        chunk = "".join(items[(page - 1) * per_page : page * per_page]) or "<p>Nothing here yet.</p>"
        folder = out / section if page == 1 else out / section / "page" / str(page)
        _write(folder / "index.html", _page(company, title, chunk + _pager(base, page, pages)))


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def _funding_line(funding: FundingRound) -> str:
    lead = funding.lead_investor
    how = f"raised in our listing, underwritten by {lead}" if funding.round == "IPO" else f"led by {lead}"
    return f"<li>{escape(funding.round)}: ${funding.amount_usd:,} {escape(how)} ({funding.date[:7]})</li>"


def open_positions(company: Company, rng: random.Random) -> int:
    """How many roles a company advertises: about one for every twelve people, at least one."""
    return min(len(_ROLES), max(1, round(company.employees * rng.uniform(0.04, 0.12))))


def _compare(world: World, company: Company) -> str:
    """The comparison page: the competitors the company names, with their domains and entry prices."""
    rows = "".join(
        f'<tr><td><a href="{site_path(rival)}">{escape(rival.name)}</a></td><td>{escape(rival.domain)}</td>'
        f"<td>{escape(rival.sub_industry)}</td><td>${min(p.price_per_month_usd for p in rival.plans)}/mo</td></tr>"
        for rival in (world.company(i) for i in company.competitor_ids)
    )
    entry = min(p.price_per_month_usd for p in company.plans)
    return (
        f"<p>Teams evaluating {escape(company.name)} usually also look at these {escape(company.sub_industry.lower())}"
        f" and {escape(company.industry.lower())} vendors. Here is how we compare.</p>"
        '<table class="compare"><thead><tr><th>Competitor</th><th>Domain</th><th>Segment</th><th>Plans from</th>'
        f"</tr></thead><tbody>{rows}</tbody></table>"
        f"<p>{escape(company.name)} plans start at ${entry}/mo. "
        f'<a class="cta" href="{site_path(company)}contact/">Talk to us about switching</a></p>'
    )


def build_site(world: World, company: Company, out: Path) -> None:
    """Write one company's site under `out` (the folder named after its domain)."""
    rng = random.Random(f"{world.seed}-{company.id}-site")
    root = site_path(company)
    people = world.people_at(company.id)
    leaders = [p for p in people if p.seniority in ("c_suite", "vp", "director")]
    _write(
        out / "index.html",
        _page(
            company, company.tagline,
            f"<p>{escape(company.description)}</p><p>Trusted by teams in {escape(company.industry.lower())} since "
            f'{company.founded_year}.</p><p><a class="cta" href="{root}contact/">Book a demo</a> '
            f'<a href="{root}pricing/">See pricing</a></p>',
        ),
    )  # fmt: skip
    funding = "".join(_funding_line(r) for r in company.funding_rounds)
    about = (
        f"<p>{escape(company.description)}</p><dl><dt>Founded</dt><dd>{company.founded_year}</dd>"
        f"<dt>Headquarters</dt><dd>{escape(company.hq_city)}, {escape(company.hq_country)}</dd>"
        f"<dt>Team size</dt><dd>{company.size_band} employees</dd>"
        f"<dt>Stage</dt><dd>{escape(company.funding_stage)}</dd></dl>"
        + (f"<h2>Funding</h2><ul>{funding}</ul>" if funding else "<p>We are bootstrapped.</p>")
    )
    _write(out / "about" / "index.html", _page(company, f"About {company.name}", about))
    team = "".join(f'<div class="person"><strong>{escape(p.name)}</strong><br>{escape(p.title)}</div>' for p in leaders)
    _write(out / "team" / "index.html", _page(company, "Leadership team", team))
    plans = "".join(
        f'<div class="plan"><h2>{escape(plan.name)}</h2><p class="price">${plan.price_per_month_usd}/mo</p><ul>'
        + "".join(f"<li>{escape(f)}</li>" for f in plan.features)
        + f'</ul><a class="cta" href="{root}contact/?plan={plan.name.lower()}">Choose {escape(plan.name)}</a></div>'
        for plan in company.plans
    )
    _write(out / "pricing" / "index.html", _page(company, "Pricing", plans))
    _write(out / "compare" / "index.html", _page(company, f"{company.name} alternatives", _compare(world, company)))
    jobs = [
        f'<div class="job"><h2>{escape(role)}</h2><p>{escape(company.hq_city)} or remote &middot; '
        f"{rng.choice(('Engineering', 'Go-to-market', 'Product', 'Operations'))}</p></div>"
        for role in rng.sample(_ROLES, open_positions(company, rng))
    ]
    _paginated(out, company, "careers", "Open positions", jobs, JOBS_PER_PAGE)
    posts = [p for p in world.social_posts if p.company_id == company.id and p.platform == "linkedin"]
    items = []
    for post in sorted(posts, key=lambda p: p.posted_at, reverse=True):
        href = f"{root}blog/{post.id}/"
        items.append(
            f'<div class="post"><a href="{href}">{escape(post.text)}</a><br><small>{post.posted_at}</small></div>'
        )
        _write(out / "blog" / post.id / "index.html", _page(company, post.text, f"<p>Published {post.posted_at}.</p>"))
    _paginated(out, company, "blog", "Blog", items, POSTS_PER_PAGE)
    docs = [("getting-started", "Getting started"), ("api", "API reference"), ("security", "Security")]
    links = "".join(f'<li><a href="{root}docs/{section}/">{title}</a></li>' for section, title in docs)
    _write(out / "docs" / "index.html", _page(company, "Documentation", f"<ul>{links}</ul>"))
    for section, title in docs:
        _write(
            out / "docs" / section / "index.html", _page(company, title, f"<p>{title} for {escape(company.name)}.</p>")
        )
    form = (
        f'<form method="post" action="{root}contact"><label>Name <input name="name" required></label><br>'
        '<label>Work email <input name="email" type="email" required></label><br>'
        '<label>Company <input name="company"></label><br><label>Message <textarea name="message"></textarea>'
        '</label><br><button type="submit">Send</button></form>'
    )
    _write(out / "contact" / "index.html", _page(company, "Talk to sales", form))


def build_sites(world: World, out: Path) -> None:
    for company in world.companies:
        build_site(world, company, out / company.domain)
