"""Benchmarks; each module runs with `python -m bench.<name>` (see the Makefile's `bench` target)."""
