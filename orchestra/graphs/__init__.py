"""LangGraph graphs: triage of a task, then the workflow that does it."""
