"""Client side: reaching MCP tools through the gateway."""
