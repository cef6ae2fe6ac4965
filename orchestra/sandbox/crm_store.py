"""The sandbox CRM: HubSpot's object model (companies, contacts, deals, engagements) in SQLite.

Objects carry HubSpot's property names so an agent that learned the sandbox speaks to the real HubSpot the same
way. Every write validates all of its inputs first and runs in one transaction: nothing is half-written.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from orchestra.sandbox.model import DEAL_STAGES, World
from orchestra.sandbox.names import SALES_REPS

OBJECT_TYPES: dict[str, dict[str, str]] = {
    "companies": {
        "name": "Company name", "domain": "Web domain, e.g. acme.example", "industry": "Industry",
        "numberofemployees": "Employee count", "city": "City", "country": "Country",
        "lifecyclestage": "lead, opportunity or customer", "hubspot_owner_id": "Owner id (see owners)",
        "description": "About the company",
    },
    "contacts": {
        "firstname": "First name", "lastname": "Last name", "email": "Email address", "jobtitle": "Job title",
        "hs_seniority": "Seniority: c_suite, vp, director, manager, senior, entry", "company": "Company name",
        "hubspot_owner_id": "Owner id",
    },
    "deals": {
        "dealname": "Deal name", "dealstage": f"One of: {', '.join(DEAL_STAGES)}", "amount": "Amount in USD",
        "closedate": "Close date, YYYY-MM-DD", "createdate": "Creation date, YYYY-MM-DD", "pipeline": "Pipeline",
        "hubspot_owner_id": "Owner id", "closed_lost_reason": "Why the deal was lost",
    },
    "notes": {"hs_note_body": "Note text", "hs_timestamp": "When, ISO date", "hubspot_owner_id": "Owner id"},
    "calls": {"hs_call_body": "Call summary", "hs_timestamp": "When, ISO date", "hubspot_owner_id": "Owner id"},
    "emails": {"hs_email_text": "Email summary", "hs_timestamp": "When, ISO date", "hubspot_owner_id": "Owner id"},
    "meetings": {"hs_meeting_body": "Meeting notes", "hs_timestamp": "When, ISO date", "hubspot_owner_id": "Owner id"},
    "owners": {"firstname": "First name", "lastname": "Last name", "email": "Email address"},
}  # fmt: skip
SEARCHABLE = {"companies": ["name", "domain"], "contacts": ["firstname", "lastname", "email"], "deals": ["dealname"]}
ENGAGEMENT_TYPES = {"NOTE": "notes", "CALL": "calls", "EMAIL": "emails", "MEETING": "meetings"}
_BODY = {"notes": "hs_note_body", "calls": "hs_call_body", "emails": "hs_email_text", "meetings": "hs_meeting_body"}
_DOMAIN = re.compile(r"^(?=.{4,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[a-z]{2,63}$", re.I)
OPERATORS = {"EQ", "NEQ", "LT", "LTE", "GT", "GTE", "CONTAINS_TOKEN", "IN", "HAS_PROPERTY", "NOT_HAS_PROPERTY"}


class CrmError(ValueError):
    """A request the CRM refuses; the message says what to change."""


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def _stamp(day: str) -> str:
    """A record's createdAt for a date of the world: nine in the morning, UTC."""
    return f"{day}T09:00:00+00:00"


class CrmStore:
    """HubSpot-shaped objects and associations in one SQLite file."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.path, timeout=10)
        db.row_factory = sqlite3.Row
        try:
            with db:  # one transaction: committed on success, rolled back on any error
                yield db
        finally:
            db.close()

    # -- set-up ---------------------------------------------------------------------------------------
    def initialize(self, world: World) -> None:
        """Create the schema and load the world's CRM (only the companies and contacts our CRM knows)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._db() as db:
            db.executescript(
                "CREATE TABLE objects (id INTEGER PRIMARY KEY AUTOINCREMENT, type TEXT NOT NULL,"
                " properties TEXT NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL);"
                "CREATE INDEX objects_type ON objects(type);"
                "CREATE TABLE associations (from_id INTEGER NOT NULL, to_id INTEGER NOT NULL,"
                " PRIMARY KEY (from_id, to_id));"
                "INSERT INTO sqlite_sequence (name, seq) VALUES ('objects', 1000);"
                "CREATE TABLE world (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
            )
            db.execute("INSERT INTO world VALUES ('as_of', ?)", (world.as_of,))
            # Each record was created when the CRM first heard of it: a company and its contacts with its first
            # deal or activity (a lead without either some weeks or months before as_of), deals and engagements on
            # their own dates.
            first_seen = {
                c: (world.as_of_date - dt.timedelta(days=30 + int(c[1:]) * 37 % 500)).isoformat()
                for c in world.crm_company_ids
            }
            for when, company_id in [(d.created_date, d.company_id) for d in world.deals] + [
                (a.date, a.company_id) for a in world.activities
            ]:
                first_seen[company_id] = min(when, first_seen[company_id])
            opened = min(first_seen.values(), default=world.as_of)
            owners = {}
            for rep in SALES_REPS:
                first, last = rep.split(" ", 1)
                email = f"{first}.{last}@orchestra.example".lower()
                props = {"firstname": first, "lastname": last, "email": email}
                owners[rep] = self._insert(db, "owners", props, _stamp(opened))
            deals_by_company: dict[str, list[Any]] = {}
            for deal in world.deals:
                deals_by_company.setdefault(deal.company_id, []).append(deal)
            ids: dict[str, int] = {}
            for company_id in world.crm_company_ids:
                company, deals = world.company(company_id), deals_by_company.get(company_id, [])
                stage = "customer" if any(d.stage == "closedwon" for d in deals) else "opportunity" if deals else "lead"
                owner = owners[deals[0].owner] if deals else owners[SALES_REPS[int(company_id[1:]) % len(SALES_REPS)]]
                ids[company_id] = self._insert(db, "companies", {
                    "name": company.name, "domain": company.domain, "industry": company.industry,
                    "numberofemployees": str(company.employees), "city": company.hq_city, "country": company.hq_country,
                    "lifecyclestage": stage, "hubspot_owner_id": str(owner), "description": company.description,
                }, _stamp(first_seen[company_id]))  # fmt: skip
            known = set(world.crm_contact_ids)
            for person in world.people:
                if person.id in known:
                    ids[person.id] = self._insert(db, "contacts", {
                        "firstname": person.first_name, "lastname": person.last_name, "email": person.email,
                        "jobtitle": person.title, "hs_seniority": person.seniority,
                        "company": world.company(person.company_id).name,
                    }, _stamp(first_seen[person.company_id]), [ids[person.company_id]])  # fmt: skip
            for deal in world.deals:
                props = {"dealname": deal.name, "dealstage": deal.stage, "amount": str(deal.amount_usd),
                         "closedate": deal.close_date, "createdate": deal.created_date, "pipeline": "default",
                         "hubspot_owner_id": str(owners[deal.owner])}  # fmt: skip
                if deal.lost_reason:
                    props["closed_lost_reason"] = deal.lost_reason
                ids[deal.id] = self._insert(db, "deals", props, _stamp(deal.created_date), [ids[deal.company_id]])
            for activity in world.activities:
                kind = {"note": "notes", "call": "calls", "email": "emails", "meeting": "meetings"}[activity.kind]
                links = [ids[activity.company_id]] + ([ids[activity.contact_id]] if activity.contact_id in ids else [])
                body = {_BODY[kind]: activity.summary, "hs_timestamp": activity.date,
                        "hubspot_owner_id": str(owners[activity.owner])}  # fmt: skip
                self._insert(db, kind, body, _stamp(activity.date), links)

    def _insert(
        self, db: sqlite3.Connection, kind: str, props: dict[str, str], stamp: str, links: Sequence[int] = ()
    ) -> int:
        cursor = db.execute(
            "INSERT INTO objects (type, properties, created_at, updated_at) VALUES (?, ?, ?, ?)",
            (kind, json.dumps(props, sort_keys=True), stamp, stamp),
        )
        new_id = int(cursor.lastrowid or 0)
        for other in links:
            db.execute("INSERT OR IGNORE INTO associations VALUES (?, ?)", (new_id, other))
            db.execute("INSERT OR IGNORE INTO associations VALUES (?, ?)", (other, new_id))
        return new_id

    # -- reads ----------------------------------------------------------------------------------------
    def as_of(self) -> str:
        """The date the CRM's data is current to (the world's as-of date), YYYY-MM-DD."""
        with self._db() as db:
            row = db.execute("SELECT value FROM world WHERE key = 'as_of'").fetchone()
        return str(row["value"])

    def search(
        self, kind: str, *, query: str | None = None, filter_groups: list[dict[str, Any]] | None = None,
        properties: list[str] | None = None, sorts: list[dict[str, str]] | None = None, limit: int = 10,
        after: str | None = None,
    ) -> dict[str, Any]:  # fmt: skip
        """HubSpot's search: `query` over the default searchable properties, OR of AND-ed filter groups."""
        self._check_type(kind)
        groups = [self._check_filters(kind, g.get("filters", [])) for g in filter_groups or []]
        with self._db() as db:
            rows = db.execute("SELECT * FROM objects WHERE type = ? ORDER BY id", (kind,)).fetchall()
        matches = [r for r in rows if _matches(json.loads(r["properties"]), kind, query, groups)]
        for sort in reversed(sorts or []):
            name = sort.get("propertyName", "")
            matches.sort(key=lambda r: _sort_key(json.loads(r["properties"]).get(name)),
                         reverse=sort.get("direction", "ASCENDING").upper() == "DESCENDING")  # fmt: skip
        start = int(after) if after and after.isdigit() else 0
        page = matches[start : start + limit]
        result: dict[str, Any] = {"total": len(matches), "results": [_render(r, properties) for r in page]}
        if start + limit < len(matches):
            result["paging"] = {"next": {"after": str(start + limit)}}
        return result

    def read(self, kind: str, ids: list[str], properties: list[str] | None = None) -> list[dict[str, Any]]:
        self._check_type(kind)
        rows = self._rows(kind, ids)
        return [_render(rows[int(i)], properties) for i in ids]

    def associations(self, kind: str, object_id: str, to_kind: str) -> list[dict[str, Any]]:
        self._check_type(kind)
        self._check_type(to_kind)
        self._rows(kind, [object_id])
        with self._db() as db:
            rows = db.execute(
                "SELECT o.* FROM associations a JOIN objects o ON o.id = a.to_id WHERE a.from_id = ? AND o.type = ?"
                " ORDER BY o.id",
                (int(object_id), to_kind),
            ).fetchall()
        return [_render(r, None) for r in rows]

    # -- writes ---------------------------------------------------------------------------------------
    def create(self, kind: str, inputs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Create objects; every input is validated before anything is written."""
        self._check_type(kind)
        prepared = []
        for number, item in enumerate(inputs):
            props = self._check_properties(kind, item.get("properties") or {}, f"inputs[{number}]")
            self._check_required(kind, props, f"inputs[{number}]")
            links = [self._association_target(a, f"inputs[{number}]") for a in item.get("associations") or []]
            prepared.append((props, links))
        self._check_unique(kind, [p for p, _ in prepared])
        stamp = _now()
        with self._db() as db:
            for _, links in prepared:
                for other in links:
                    if not db.execute("SELECT 1 FROM objects WHERE id = ?", (other,)).fetchone():
                        raise CrmError(f"association target {other} does not exist; search for the object first")
            new_ids = [self._insert(db, kind, props, stamp, links) for props, links in prepared]
        return self.read(kind, [str(i) for i in new_ids])

    def update(self, kind: str, inputs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Set properties of existing objects; all or nothing."""
        self._check_type(kind)
        ids = [str(item.get("id", "")) for item in inputs]
        current = self._rows(kind, ids)
        changes = {
            i: self._check_properties(kind, item.get("properties") or {}, f"id {i}")
            for i, item in zip(ids, inputs, strict=True)
        }
        merged = {i: {**json.loads(current[int(i)]["properties"]), **props} for i, props in changes.items()}
        self._check_unique(kind, [merged[i] for i in ids], exclude=[int(i) for i in ids])
        stamp = _now()
        with self._db() as db:
            for object_id, props in merged.items():
                db.execute("UPDATE objects SET properties = ?, updated_at = ? WHERE id = ?",
                           (json.dumps(props, sort_keys=True), stamp, int(object_id)))  # fmt: skip
        return self.read(kind, ids)

    def create_engagement(
        self, engagement_type: str, body: str, associations: dict[str, list[str]], owner_id: str | None
    ) -> dict[str, Any]:
        kind = ENGAGEMENT_TYPES.get(engagement_type.upper())
        if kind is None:
            raise CrmError(f"engagement type {engagement_type!r} is not one of {sorted(ENGAGEMENT_TYPES)}")
        if not body.strip():
            raise CrmError("metadata.body is empty; write what happened")
        targets = [str(i) for key in ("companyIds", "contactIds", "dealIds") for i in associations.get(key, [])]
        if not targets:
            raise CrmError("associate the engagement with at least one company, contact or deal (associations)")
        props = {_BODY[kind]: body, "hs_timestamp": _now()}
        if owner_id:
            props["hubspot_owner_id"] = owner_id
        links = [{"toObjectId": t} for t in targets]
        return self.create(kind, [{"properties": props, "associations": links}])[0]

    # -- validation -----------------------------------------------------------------------------------
    def _rows(self, kind: str, ids: list[str]) -> dict[int, sqlite3.Row]:
        bad = [i for i in ids if not str(i).isdigit()]
        if bad:
            raise CrmError(f"ids must be numeric strings like '1001'; got {bad}")
        with self._db() as db:
            rows = db.execute(
                f"SELECT * FROM objects WHERE type = ? AND id IN ({','.join('?' * len(ids))})", (kind, *map(int, ids))
            ).fetchall()
        found = {r["id"]: r for r in rows}
        missing = [i for i in ids if int(i) not in found]
        if missing:
            raise CrmError(f"no {kind} with id {', '.join(missing)}; find ids with hubspot-search-objects")
        return found

    @staticmethod
    def _check_type(kind: str) -> None:
        if kind not in OBJECT_TYPES:
            raise CrmError(f"unknown objectType {kind!r}; use one of {sorted(OBJECT_TYPES)}")

    @staticmethod
    def _check_properties(kind: str, props: dict[str, Any], where: str) -> dict[str, str]:
        unknown = sorted(set(props) - set(OBJECT_TYPES[kind]))
        if unknown:
            raise CrmError(f"{where}: unknown {kind} properties {unknown}; valid: {sorted(OBJECT_TYPES[kind])}")
        clean = {k: str(v) for k, v in props.items() if v is not None}
        if "domain" in clean and not _DOMAIN.match(clean["domain"].lower()):
            raise CrmError(f"{where}: domain {clean['domain']!r} is malformed; write it like acme.example")
        if "email" in clean and not _EMAIL.match(clean["email"]):
            raise CrmError(f"{where}: email {clean['email']!r} is malformed")
        if "dealstage" in clean and clean["dealstage"] not in DEAL_STAGES:
            raise CrmError(f"{where}: dealstage {clean['dealstage']!r} is not one of {DEAL_STAGES}")
        if "amount" in clean:
            try:
                float(clean["amount"])
            except ValueError:
                raise CrmError(f"{where}: amount {clean['amount']!r} is not a number") from None
        return clean

    @staticmethod
    def _check_required(kind: str, props: dict[str, str], where: str) -> None:
        required = {"companies": [("name", "domain")], "contacts": [("email", "lastname")],
                    "deals": [("dealname",), ("dealstage",)]}.get(kind, [])  # fmt: skip
        for options in required:
            if not any(props.get(p) for p in options):
                raise CrmError(f"{where}: missing field: set {' or '.join(options)}")

    def _check_unique(self, kind: str, new: list[dict[str, str]], exclude: Sequence[int] = ()) -> None:
        key = {"companies": "domain", "contacts": "email"}.get(kind)
        if key is None:
            return
        values = [p[key].lower() for p in new if p.get(key)]
        if len(values) != len(set(values)):
            raise CrmError(f"two inputs have the same {key}")
        with self._db() as db:
            for row in db.execute("SELECT id, properties FROM objects WHERE type = ?", (kind,)):
                value = json.loads(row["properties"]).get(key, "").lower()
                if value in values and row["id"] not in exclude:
                    raise CrmError(
                        f"a {kind[:-1]} with {key} {value} already exists (id {row['id']}); update it instead"
                    )

    @staticmethod
    def _association_target(association: dict[str, Any], where: str) -> int:
        target = str(association.get("toObjectId") or association.get("to", {}).get("id", ""))
        if not target.isdigit():
            raise CrmError(f"{where}: each association needs toObjectId, a numeric id")
        return int(target)

    @staticmethod
    def _check_filters(kind: str, filters: list[dict[str, Any]]) -> list[dict[str, Any]]:
        for f in filters:
            if f.get("operator") not in OPERATORS:
                raise CrmError(f"filter operator {f.get('operator')!r} is not one of {sorted(OPERATORS)}")
            if f.get("propertyName") not in OBJECT_TYPES[kind]:
                raise CrmError(f"filter property {f.get('propertyName')!r} is not a {kind} property")
        return filters


def _sort_key(value: str | None) -> tuple[int, float, str]:
    try:
        return (0, float(value), "") if value is not None else (1, 0.0, "")
    except ValueError:
        return (0, 0.0, value or "")


def _compare(actual: str | None, op: str, expected: Any) -> bool:
    if op == "HAS_PROPERTY":
        return bool(actual)
    if op == "NOT_HAS_PROPERTY":
        return not actual
    if actual is None:
        return False
    if op == "IN":
        return actual.lower() in {str(v).lower() for v in expected or []}
    if op == "CONTAINS_TOKEN":
        return str(expected).lower().strip("*") in actual.lower()
    left, right = _sort_key(actual), _sort_key(str(expected))
    return {"EQ": actual.lower() == str(expected).lower(), "NEQ": actual.lower() != str(expected).lower(),
            "LT": left < right, "LTE": left <= right, "GT": left > right, "GTE": left >= right}[op]  # fmt: skip


def _matches(props: dict[str, str], kind: str, query: str | None, groups: list[list[dict[str, Any]]]) -> bool:
    if query and not any(query.lower() in props.get(p, "").lower() for p in SEARCHABLE.get(kind, [])):
        return False
    if not groups:
        return True
    return any(
        all(_compare(props.get(f["propertyName"]), f["operator"], _expected(f)) for f in group) for group in groups
    )


def _expected(condition: dict[str, Any]) -> Any:
    return condition.get("values") if condition["operator"] == "IN" else condition.get("value")


def _render(row: sqlite3.Row, properties: list[str] | None) -> dict[str, Any]:
    props = json.loads(row["properties"])
    if properties:
        props = {k: v for k, v in props.items() if k in properties}
    return {"id": str(row["id"]), "properties": props, "createdAt": row["created_at"],
            "updatedAt": row["updated_at"], "archived": False}  # fmt: skip
