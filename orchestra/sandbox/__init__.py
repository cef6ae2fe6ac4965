"""The embedded defaults: a deterministic demo world and real MCP servers over it, all offline."""
