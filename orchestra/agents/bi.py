"""The business intelligence specialist: companies, contacts, deals, CRM, enrichment, social, warehouse."""

from orchestra.agents import prompts
from orchestra.agents.specialist import Specialist

BI = Specialist(
    domain="bi",
    tools_tier="bi",
    instructions=prompts.BI,
    offline_help="ask for a research workflow (e.g. 'research <company> for our sales call'), which runs offline, "
    'or query the warehouse with `orchestra tools call execute_query \'{"sql": "..."}\' --pool warehouse`',
)
