"""The web specialist: browsing, clicking, filling, extracting pages."""

from orchestra.agents import prompts
from orchestra.agents.specialist import Specialist

WEB = Specialist(
    domain="web",
    tools_tier="web",
    instructions=prompts.WEB,
    offline_help="call the browser tools directly, e.g. `orchestra tools call browser_navigate "
    '\'{"url": "..."}\' --pool browser`',
)
