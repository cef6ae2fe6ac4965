"""One router per resource: meta (health, info, metrics), assistants, threads, runs."""
