"""The sandbox MCP servers; each runs with `python -m orchestra.sandbox.servers.<name>`."""
