"""Learned routing: which workflow and how carefully a task is handled (triage), and which model tier answers it.

Both models are trained here from data in the repository (`python -m orchestra.routing.train`), shipped as
artifacts beside their metrics, and run locally in about a millisecond with no model call and no network.
"""
