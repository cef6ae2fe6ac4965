"""The sandbox warehouse: MotherDuck's MCP server (mcp-server-motherduck) over the DuckDB file, locked down.

    python -m orchestra.sandbox.servers.warehouse --db-path FILE [--query-timeout SECONDS]

Opening the file read-only protects only the file: DuckDB itself still reads and writes host files, fetches URLs
and loads extensions (warehouse_lockdown.sql, next to this module, lists what it switches off). MotherDuck's own
`--init-sql` runs only with `--no-ephemeral-connections`, on one connection that its worker threads then share,
so concurrent calls read each other's results. Instead this opens the database once, locks that DuckDB instance
down and keeps it open while serving: MotherDuck's per-query connections (same path, same config) join the open,
locked instance, and each query still has a connection of its own.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import duckdb
from mcp_server_motherduck.configs import SERVER_VERSION
from mcp_server_motherduck.server import create_mcp_server

LOCKDOWN = Path(__file__).with_name("warehouse_lockdown.sql")
# What MotherDuck's DatabaseClient passes to duckdb.connect. DuckDB lets a connection join an open instance only
# with an identical config and refuses it otherwise, so if a release changes this, every query fails: closed.
_MOTHERDUCK_CONFIG = {"custom_user_agent": f"mcp-server-motherduck/{SERVER_VERSION}"}
_CHECK = "SELECT current_setting('lock_configuration'), current_setting('enable_external_access')"


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
        # Ephemeral: a connection per query (joining the locked instance), so concurrent calls never share one.
        server = create_mcp_server(
            db_path=db_path, read_only=True, ephemeral_connections=True, query_timeout=args.query_timeout
        )
        server.run(transport="stdio")
    finally:
        anchor.close()


if __name__ == "__main__":
    main(sys.argv[1:])
