"""Workflows: deterministic tool plans that run offline, with model synthesis when a model is configured."""
