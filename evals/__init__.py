"""Evaluation suites: labeled datasets and the scripts that score Orchestra against them."""
