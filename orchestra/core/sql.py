"""SQL text the project writes itself (warehouse comments, workflow queries)."""


def sql_literal(text: str) -> str:
    """`text` as a quoted SQL string literal, for statements that take no parameters (DuckDB's COMMENT ON, SQL sent
    as text through an MCP tool)."""
    return "'" + text.replace("'", "''") + "'"
