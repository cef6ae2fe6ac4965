"""The design specialist: design files, design review, design to code, deployments."""

from orchestra.agents import prompts
from orchestra.agents.specialist import Specialist

DESIGN = Specialist(
    domain="design",
    tools_tier="design",
    instructions=prompts.DESIGN,
    offline_help="ask for the design_to_deployment workflow (e.g. 'deploy the pricing page from Figma'), or call "
    "`orchestra tools call get_figma_data ... --pool design`",
)
