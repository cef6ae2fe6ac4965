"""Evaluation suites: recorded tasks replayed hermetically on every change (`orchestra eval`, docs/evals.md)."""
