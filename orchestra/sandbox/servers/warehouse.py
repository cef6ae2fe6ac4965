"""The sandbox warehouse: MotherDuck's MCP server (mcp-server-motherduck) over the DuckDB file, locked down.

    python -m orchestra.sandbox.servers.warehouse --db-path FILE [--query-timeout SECONDS]

Opening the file read-only protects only the file: DuckDB itself still reads and writes host files, fetches URLs
and loads extensions (warehouse_lockdown.sql, next to this module, lists what it switches off). MotherDuck's own
`--init-sql` runs only with `--no-ephemeral-connections`, on one connection that its worker threads then share,
so concurrent calls read each other's results. Instead this opens the database once, locks that DuckDB instance
down and keeps it open while serving: MotherDuck's per-query connections (same path, same config) join the open,
locked instance, and each query still has a connection of its own.

The lock does not cover DuckDB's logging, which a `CALL enable_logging()` switches on for the whole instance:
every session could then read every other session's SQL from `duckdb_logs`, or crash the server by pointing the
log at a file it may not write. So `execute_query` also takes only SELECT statements (DESCRIBE, SHOW, SUMMARIZE
and PRAGMA table_info are SELECTs to DuckDB's parser), and refuses the logging functions and the ones that run a
query given as text, judged on DuckDB's own parse of the SQL.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import duckdb
import mcp_server_motherduck.server as motherduck
from mcp_server_motherduck.configs import SERVER_VERSION
from mcp_server_motherduck.database import DatabaseClient

LOCKDOWN = Path(__file__).with_name("warehouse_lockdown.sql")
# What MotherDuck's DatabaseClient passes to duckdb.connect. DuckDB lets a connection join an open instance only
# with an identical config and refuses it otherwise, so if a release changes this, every query fails: closed.
_MOTHERDUCK_CONFIG = {"custom_user_agent": f"mcp-server-motherduck/{SERVER_VERSION}"}
_CHECK = "SELECT current_setting('lock_configuration'), current_setting('enable_external_access')"


# Logging reaches across sessions and the file system; query()/query_table() would run SQL this guard never saw.
_REFUSED_NAMES = frozenset(
    {"enable_logging", "disable_logging", "truncate_duckdb_logs", "duckdb_logs", "duckdb_log_contexts", "query",
     "query_table"}
)  # fmt: skip


def refusal(sql: str) -> str | None:
    """Why `sql` may not run on the warehouse, or None. A statement DuckDB cannot parse is left to DuckDB, which
    then reports the syntax error itself."""
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error:
        return None
    with duckdb.connect(":memory:") as parser:
        for statement in statements:
            if statement.type != duckdb.StatementType.SELECT:
                kind = str(statement.type).rsplit(".", 1)[-1]
                return f"the warehouse is read-only: only SELECT statements run here, not {kind}"
            tree = json.loads(parser.execute("SELECT json_serialize_sql(?)", [statement.query]).fetchone()[0])
            if tree.get("error"):
                return f"this query could not be checked, so it does not run ({tree.get('error_message', '')})"
            used = _names(tree) & _REFUSED_NAMES
            if used:
                return f"{', '.join(sorted(used))} cannot be used on the warehouse (it reaches past this query)"
    return None


def _names(tree: Any) -> set[str]:
    """Every function and table name in a serialized DuckDB parse tree, lower-cased."""
    found: set[str] = set()
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ("function_name", "table_name") and isinstance(value, str):
                    found.add(value.lower())
                else:
                    stack.append(value)
        elif isinstance(node, list):
            stack.extend(node)
    return found


class GuardedClient(DatabaseClient):
    """MotherDuck's database client, whose queries pass `refusal` first."""

    def query(self, query: str) -> dict[str, Any]:
        refused = refusal(query)
        if refused is not None:
            return {"success": False, "error": refused, "errorType": "ReadOnlyWarehouse"}
        return super().query(query)


class LockdownError(RuntimeError):
    """The warehouse could not be locked down; it must not be served."""


def open_locked(db_path: str) -> duckdb.DuckDBPyConnection:
    """The warehouse's DuckDB instance, read-only and locked down. Keep the connection open while serving: the
    instance lives as long as it does, and connections opened meanwhile join it."""
    anchor = duckdb.connect(db_path, read_only=True, config=_MOTHERDUCK_CONFIG)
    anchor.execute(LOCKDOWN.read_text(encoding="utf-8"))
    # Connect exactly as MotherDuck will: if that did not land on this locked instance, refuse to serve.
    with duckdb.connect(db_path, read_only=True, config=_MOTHERDUCK_CONFIG) as probe:
        locked, external_access = probe.execute(_CHECK).fetchone() or (False, True)
    if not locked or external_access:
        anchor.close()
        raise LockdownError(
            f"a new connection to {db_path} is not locked down (lock_configuration={locked}, "
            f"enable_external_access={external_access}); this DuckDB release does not share open instances, "
            "so the warehouse pool cannot run safely: pin duckdb to a release that does"
        )
    return anchor


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m orchestra.sandbox.servers.warehouse", description=__doc__)
    parser.add_argument("--db-path", required=True, help="the warehouse's DuckDB file")
    parser.add_argument("--query-timeout", type=int, default=20, help="seconds before a query is stopped")
    args = parser.parse_args(argv)
    db_path = str(Path(args.db_path).expanduser().absolute())
    if not Path(db_path).is_file():
        parser.error(f"no warehouse at {db_path}; build the sandbox with `orchestra sandbox up`")
    anchor = open_locked(db_path)
    try:
        # MotherDuck's server builds its client from this module attribute: ours checks each query first.
        motherduck.DatabaseClient = GuardedClient  # type: ignore[misc]
        # Ephemeral: a connection per query (joining the locked instance), so concurrent calls never share one.
        server = motherduck.create_mcp_server(
            db_path=db_path, read_only=True, ephemeral_connections=True, query_timeout=args.query_timeout
        )
        server.run(transport="stdio")
    finally:
        anchor.close()


if __name__ == "__main__":
    main(sys.argv[1:])
