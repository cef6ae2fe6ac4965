"""Orchestra's own MCP adapters for SaaS systems that ship no official MCP server.

Each module is a small FastMCP stdio server (`python -m orchestra.connectors.<name>`) that calls the vendor's real
HTTP API with a key read from the environment when a tool runs. The gateway starts one only when that key is set;
offline, an embedded sandbox server with the same tool names and argument shapes stands in. Shared HTTP plumbing
(auth, timeouts, error wording, secret redaction) lives once in `_http`.
"""
