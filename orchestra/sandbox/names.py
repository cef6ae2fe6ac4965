"""Word lists for the demo world. Company names are built from invented syllables, so none is a real company."""

from __future__ import annotations

import random

_ONSETS = ["br", "c", "d", "f", "gl", "h", "k", "l", "m", "n", "p", "qu", "r", "s", "st", "t", "tr", "v", "w", "z"]
_VOWELS = ["a", "e", "i", "o", "u", "ai", "ea", "io", "ou"]
_CODAS = ["", "", "n", "r", "l", "x", "s", "th", "nd", "rt", "m"]
_ENDINGS = ["a", "o", "ia", "ex", "ora", "ium", "era", "ix", "on", "ly", "io", "ant"]
COMPANY_SUFFIXES = ["Labs", "Systems", "Analytics", "Works", "Cloud", "Health", "Logistics", "Robotics", "Data", "AI"]
_SUFFIX_INDUSTRIES = {"Health": {"Healthtech"}, "Logistics": {"Logistics"}, "Robotics": {"Logistics"}}
_ANY_INDUSTRY = [s for s in COMPANY_SUFFIXES if s not in _SUFFIX_INDUSTRIES]

FIRST_NAMES = [
    "Ada", "Amir", "Beatriz", "Bruno", "Chen", "Chiara", "Dario", "Dana", "Elif", "Emeka", "Farah", "Felix",
    "Greta", "Gabriel", "Hana", "Hugo", "Ines", "Ivan", "Jonas", "Jia", "Kai", "Keira", "Lena", "Luca", "Maya",
    "Mateo", "Nadia", "Noah", "Olga", "Omar", "Priya", "Pablo", "Quinn", "Rosa", "Rafael", "Sofia", "Samir",
    "Tara", "Tomas", "Uma", "Victor", "Vera", "Wen", "Yara", "Yusuf", "Zoe", "Zane", "Leila", "Marco", "Nina",
]  # fmt: skip
LAST_NAMES = [
    "Abara", "Bellweather", "Castellan", "Dunmore", "Eskildsen", "Farrow", "Galvane", "Holloway", "Ibarra",
    "Jorgen", "Kestrel", "Lindqvist", "Moreau", "Nakashima", "Okafor", "Pellegrini", "Quist", "Rasmussen",
    "Sorensen", "Tamura", "Underhill", "Valdez", "Whitlock", "Xiang", "Yilmaz", "Zielinski", "Ashdown",
    "Brannigan", "Corvo", "Delacroix", "Everhart", "Fontaine", "Grimaldi", "Hartigan", "Iverson", "Lachance",
]  # fmt: skip

INDUSTRIES: dict[str, list[str]] = {
    "Fintech": ["Payments", "Lending", "Fraud detection", "Accounting software"],
    "Healthtech": ["Telehealth", "Clinical analytics", "Patient engagement"],
    "Logistics": ["Freight marketplace", "Warehouse automation", "Last-mile delivery"],
    "Developer tools": ["CI/CD", "Observability", "API management", "Testing"],
    "Cybersecurity": ["Identity", "Endpoint security", "Cloud security"],
    "Martech": ["Email marketing", "Customer data platform", "Ad analytics"],
    "HR tech": ["Recruiting", "Payroll", "Employee engagement"],
    "Climate tech": ["Carbon accounting", "Energy management", "Grid software"],
}
TECHNOLOGIES = [
    "AWS", "Google Cloud", "Azure", "Kubernetes", "PostgreSQL", "Snowflake", "Databricks", "React", "Next.js",
    "Python", "Go", "Rust", "Java", "Salesforce", "HubSpot", "Segment", "Stripe", "Datadog", "Terraform", "Kafka",
]  # fmt: skip
CITIES = [
    ("Lisbon", "Portugal"), ("Austin", "United States"), ("Toronto", "Canada"), ("Berlin", "Germany"),
    ("Singapore", "Singapore"), ("Nairobi", "Kenya"), ("Melbourne", "Australia"), ("Denver", "United States"),
    ("Amsterdam", "Netherlands"), ("Seoul", "South Korea"), ("Barcelona", "Spain"), ("Boston", "United States"),
    ("Stockholm", "Sweden"), ("Sao Paulo", "Brazil"), ("Bangalore", "India"), ("Dublin", "Ireland"),
]  # fmt: skip
INVESTORS = [
    "Harborlight Ventures", "Quillstone Capital", "Redwick Partners", "Emberfield VC", "Northgale Capital",
    "Tidewater Growth", "Lumenvale Partners", "Copperline Ventures", "Sablewood Capital", "Brightmoor Fund",
]  # fmt: skip
UNDERWRITERS = ["Ashgrove Securities", "Meridane & Co.", "Halloran Brothers"]  # lead underwriters of listings
SALES_REPS = ["Riley Okonkwo", "Jordan Vasquez", "Sam Whitfield", "Alex Moreno"]
TITLES: list[tuple[str, str, str]] = [  # title, seniority, department
    ("Chief Executive Officer", "c_suite", "executive"), ("Chief Technology Officer", "c_suite", "engineering"),
    ("Chief Financial Officer", "c_suite", "finance"), ("VP of Engineering", "vp", "engineering"),
    ("VP of Sales", "vp", "sales"), ("VP of Marketing", "vp", "marketing"), ("Head of Data", "director", "engineering"),
    ("Director of Operations", "director", "operations"), ("Director of IT", "director", "it"),
    ("Engineering Manager", "manager", "engineering"), ("Sales Manager", "manager", "sales"),
    ("Product Manager", "manager", "product"), ("Senior Software Engineer", "senior", "engineering"),
    ("Data Engineer", "senior", "engineering"), ("Account Executive", "entry", "sales"),
    ("Marketing Specialist", "entry", "marketing"),
]  # fmt: skip


def company_name(word: str, suffix: str, industry: str) -> str:
    """`word suffix`, unless the suffix names another industry (a "Health" company selling payroll): then a
    suffix that fits any industry, chosen by the word."""
    if industry not in _SUFFIX_INDUSTRIES.get(suffix, {industry}):
        suffix = _ANY_INDUSTRY[len(word) % len(_ANY_INDUSTRY)]
    return f"{word} {suffix}"


def invented_word(rng: random.Random) -> str:
    """A pronounceable word that is not in any dictionary: two syllables and an ending."""
    syllables = [rng.choice(_ONSETS) + rng.choice(_VOWELS) + rng.choice(_CODAS) for _ in range(rng.choice((1, 2)))]
    return ("".join(syllables) + rng.choice(_ENDINGS)).capitalize()
