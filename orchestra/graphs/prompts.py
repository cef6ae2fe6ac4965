"""Prompts of the supervisor's own model steps."""

TRIAGE = """Classify the task for routing. Answer with one JSON object only:
{{"domain": "web"|"design"|"bi"|"ai", "complexity": "low"|"high"|"critical",
  "workflow": "sales_intelligence_research"|"competitive_analysis"|"market_research"|"design_to_deployment"|null}}
domain: web = interacting with or extracting from web pages; design = design files and turning them into code or
deployed pages; bi = companies, contacts, deals, CRM, enrichment, social presence, warehouse analytics, competitive
and market research; ai = about models themselves or pure language work on given text.
complexity: low = one read-only lookup or short answer; high = several steps or sources, read-only; critical =
changes external state (creates, updates, sends, deploys...) or must be exactly right for a high-stakes use.
workflow: only when the task is one of those four jobs, else null.

Task: {task}"""

VERIFY = """You are checking an answer before it goes to a {audience}. Compare every number, name and claim in the
answer with the evidence (tool results). Reply with one JSON object only:
{{"verdict": "agree" or "disagree", "issues": ["each claim the evidence does not support, with the correct value"]}}

Evidence:
{evidence}

Answer:
{answer}"""

FOLLOW_UP = """Rewrite the user's latest message as one standalone task that can be understood without the
conversation: replace every reference ("them", "their", "it", "the same company", "the page") with what it refers
to. Keep the user's intent and wording otherwise. Answer with the task only, one line.

What the conversation has dealt with so far:
{known}

Conversation (oldest first):
{conversation}

Latest message: {message}"""
