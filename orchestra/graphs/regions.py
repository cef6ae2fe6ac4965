"""Regions a task may name ("in Europe", "the DACH market", "in germany"), as the countries they cover, so a question
can be narrowed to companies headquartered there. Geography, not data: the warehouse's `hq_country` values are
matched against these names."""

from __future__ import annotations

import re

_EUROPE = ("Austria", "Belgium", "Denmark", "Estonia", "Finland", "France", "Germany", "Ireland", "Italy",
           "Netherlands", "Norway", "Poland", "Portugal", "Spain", "Sweden", "Switzerland",
           "United Kingdom")  # fmt: skip
_NORTH_AMERICA = ("Canada", "Mexico", "United States")
_LATIN_AMERICA = ("Argentina", "Brazil", "Chile", "Colombia", "Mexico", "Peru")
_ASIA_PACIFIC = ("Australia", "China", "India", "Indonesia", "Japan", "New Zealand", "Singapore", "South Korea",
                 "Vietnam")  # fmt: skip
_AFRICA = ("Egypt", "Kenya", "Morocco", "Nigeria", "South Africa")
_MIDDLE_EAST = ("Israel", "Saudi Arabia", "Turkey", "United Arab Emirates")

REGIONS: dict[str, tuple[str, ...]] = {
    "Europe": _EUROPE,
    "the DACH region": ("Austria", "Germany", "Switzerland"),
    "the Nordics": ("Denmark", "Finland", "Norway", "Sweden"),
    "EMEA": _EUROPE + _MIDDLE_EAST + _AFRICA,
    "North America": _NORTH_AMERICA,
    "Latin America": _LATIN_AMERICA,
    "Asia-Pacific": _ASIA_PACIFIC,
    "Africa": _AFRICA,
    "the Middle East": _MIDDLE_EAST,
}
_ALIASES = {
    r"europe(?:an)?|\beu\b": "Europe", r"dach": "the DACH region", r"nordics?|scandinavia": "the Nordics",
    r"emea": "EMEA", r"north america|\bnam\b": "North America", r"latin america|latam|south america": "Latin America",
    r"asia[- ]?pacific|apac|\basia\b": "Asia-Pacific", r"africa(?:n)?": "Africa",
    r"middle east|mena": "the Middle East",
    r"\bthe us\b|\busa\b|united states|\bu\.s\.": "United States", r"\buk\b|britain|united kingdom": "United Kingdom",
}  # fmt: skip
_COUNTRIES = sorted({c for countries in REGIONS.values() for c in countries})


def region_in(task: str) -> tuple[str, tuple[str, ...]] | None:
    """The region (or country) the task names and the countries it covers; None when it names none."""
    text = task.lower()
    for pattern, name in _ALIASES.items():
        if re.search(rf"\b(?:{pattern})", text):
            return name, REGIONS.get(name, (name,))
    country = next((c for c in _COUNTRIES if re.search(rf"\b{re.escape(c.lower())}\b", text)), None)
    return (country, (country,)) if country else None
