"""Prompts of the workflows' model steps (used only when a model is configured)."""

SUMMARY = """You write the opening summary of a report for a busy {reader}.
Use only facts stated in the report below; keep every evidence marker like [E3] next to the fact it supports;
do not add numbers, names or claims that the report does not contain. Four sentences at most, then one line
that starts with "Next step:".

Report:
{report}"""

IMPROVE_PAGE = """Improve this generated HTML page so it is production quality: semantic structure,
accessible labels and alt texts, responsive layout for narrow screens, and the same look as the design.
Keep every visible text exactly as it is, keep it one standalone file (no external requests), and reply with
the complete HTML document only.

Component spec:
{spec}

Generated HTML:
{html}"""
