"""The AI specialist: models, their cost and usage, and pure language work."""

from orchestra.agents import prompts
from orchestra.agents.specialist import Specialist

AI = Specialist(
    domain="ai",
    tools_tier="ai",
    instructions=prompts.AI,
    offline_help="see models, prices and spend with `orchestra tools call list_models '{}' --pool models`; "
    "language work (summaries, translations) needs a model key such as OPENAI_API_KEY",
)
