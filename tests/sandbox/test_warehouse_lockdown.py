"""The read-only warehouse stays inside its database: the shipped pool through the real gateway, and our launcher
of MotherDuck's server over stdio, refuse every query that would read host files or URLs, write files, load
extensions or unlock DuckDB, and still answer plain SQL, concurrently, each call with its own result."""

from __future__ import annotations

import asyncio
import hashlib
import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pytest
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

from tests.conftest import ROOT, text_of
from tests.sandbox.conftest import Sandbox

CANARY = "canary-5e1b0c"
REFUSED = ("disabled by configuration", "disabled through configuration")
LOCKED = ("the configuration has been locked",)
# The launcher's own check: only SELECT statements, and none of the functions that reach past one query.
SELECT_ONLY = ("only SELECT statements run here",)
REACHES_PAST = ("cannot be used on the warehouse",)


@dataclass(frozen=True)
class HostFiles:
    """Files a query must not reach: readable ones holding CANARY, and places a write would land."""

    root: Path

    def listing(self) -> list[str]:
        return sorted(str(p.relative_to(self.root)) for p in self.root.rglob("*"))


@pytest.fixture(scope="module")
def host_files(tmp_path_factory: pytest.TempPathFactory) -> HostFiles:
    root = tmp_path_factory.mktemp("host-files")
    (root / "secret.txt").write_text(f"{CANARY}\n")
    (root / "secret.csv").write_text(f"token\n{CANARY}\n")
    (root / "secret.json").write_text(f'{{"token": "{CANARY}"}}\n')
    with duckdb.connect() as db:  # real Parquet and DuckDB files, so a permitted read would return the canary
        db.execute(f"COPY (SELECT '{CANARY}' AS token) TO '{root / 'secret.parquet'}' (FORMAT parquet)")
    with duckdb.connect(str(root / "other.duckdb")) as db:
        db.execute(f"CREATE TABLE t AS SELECT '{CANARY}' AS token")
    return HostFiles(root)


def attacks(files: Path, host_url: str) -> dict[str, tuple[str, tuple[str, ...]]]:
    """{name: (sql, fragments of which the error must contain one)}."""
    return {
        "read_csv passwd": ("SELECT * FROM read_csv('/etc/passwd')", REFUSED),
        "read_csv file": (f"SELECT * FROM read_csv('{files}/secret.csv')", REFUSED),
        "read_csv file url": (f"SELECT * FROM read_csv('file://{files}/secret.csv')", REFUSED),
        "read_text": (f"SELECT * FROM read_text('{files}/secret.txt')", REFUSED),
        "read_blob": (f"SELECT * FROM read_blob('{files}/secret.txt')", REFUSED),
        "read_json": (f"SELECT * FROM read_json('{files}/secret.json')", REFUSED),
        "read_parquet": (f"SELECT * FROM read_parquet('{files}/secret.parquet')", REFUSED),
        "parquet_metadata": (f"SELECT * FROM parquet_metadata('{files}/secret.parquet')", REFUSED),
        "sniff_csv": (f"SELECT * FROM sniff_csv('{files}/secret.csv')", REFUSED),
        "file as table": (f"SELECT * FROM '{files}/secret.csv'", REFUSED),
        "glob root": ("SELECT * FROM glob('/root/*')", REFUSED),
        "glob files": (f"SELECT * FROM glob('{files}/*')", REFUSED),
        "copy from": (f"CREATE TEMP TABLE stolen AS SELECT 1; COPY stolen FROM '{files}/secret.csv'", REFUSED),
        "copy to": (f"COPY (SELECT 42) TO '{files}/written.csv'", REFUSED),
        "export database": (f"EXPORT DATABASE '{files}/exported'", REFUSED),
        "attach existing": (f"ATTACH '{files}/other.duckdb' AS other", REFUSED),
        "attach new": (f"ATTACH '{files}/created.duckdb' AS created", REFUSED),
        "attach sqlite": (f"ATTACH 'sqlite:{files}/created.sqlite' AS lite", REFUSED),
        # With autoload off, a function of an extension that is not loaded is unknown.
        "sqlite_scan": (f"SELECT * FROM sqlite_scan('{files}/created.sqlite', 't')", ("not in the catalog",)),
        "install": ("INSTALL httpfs", REFUSED),
        "load": ("LOAD httpfs", REFUSED),
        "load path": (f"LOAD '{files}/evil.duckdb_extension'", REFUSED),
        "http url": (f"SELECT * FROM read_csv('{host_url}/robots.txt')", REFUSED),
        "https url": ("SELECT * FROM read_text('https://example.com/')", REFUSED),
        "getenv": ("SELECT getenv('HOME')", ("does not exist",)),
        "unlock external access": ("SET enable_external_access = true", LOCKED),
        "reset external access": ("RESET enable_external_access", LOCKED),
        "unlock global": ("SET GLOBAL enable_external_access = true", LOCKED),
        "unlock lock": ("SET lock_configuration = false", LOCKED),
        "allow directories": ("SET allowed_directories = ['/']", LOCKED),
        "allow paths": ("SET allowed_paths = ['/etc/passwd']", LOCKED),
        "autoinstall": ("SET autoinstall_known_extensions = true", LOCKED),
        "spill to host": (f"SET temp_directory = '{files}/spill'", LOCKED),
        "more memory": ("SET memory_limit = '64GB'", LOCKED),
        "more threads": ("SET threads = 64", LOCKED),
        "create table": ("CREATE TABLE notes AS SELECT 1 AS x", ("read-only",)),
        "delete": ("DELETE FROM accounts", ("read-only",)),
        # DuckDB's lock does not cover logging: on, every session would read every other's SQL.
        "logging on": ("CALL enable_logging('QueryLog')", SELECT_ONLY),
        "logging as a table": ("SELECT * FROM enable_logging('QueryLog')", REACHES_PAST),
        "logging to a file": (f"CALL enable_logging(storage_path='{files}/log', storage='file')", SELECT_ONLY),
        "read the logs": ("SELECT message FROM duckdb_logs", REACHES_PAST),
        "sql as text": ("SELECT * FROM query('CALL enable_logging()')", REACHES_PAST),
        "hidden second statement": ("SELECT 1; CALL enable_logging('QueryLog')", SELECT_ONLY),
    }


NAMES = list(attacks(Path("/"), "http://x"))


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("name", NAMES)
async def test_warehouse_refuses_queries_that_reach_past_its_database(
    sandbox: Sandbox, host_files: HostFiles, name: str
) -> None:
    sql, expected = attacks(host_files.root, sandbox.host_url)[name]
    before = (host_files.listing(), digest(sandbox.paths.warehouse))
    async with sandbox.client("warehouse") as warehouse:
        result = await warehouse.call_tool("execute_query", {"sql": sql})
    text = text_of(result)
    assert result.isError, text
    # A statement that is not a SELECT is already stopped by the launcher's check, before DuckDB's own lock.
    assert any(fragment in text for fragment in (*expected, *SELECT_ONLY)), text
    assert CANARY not in text
    assert "root:x:0:0" not in text
    assert (host_files.listing(), digest(sandbox.paths.warehouse)) == before  # nothing written, nothing changed
    data_dir = sandbox.paths.root.parent
    assert not (data_dir / ".duckdb").exists()  # no extension installed, no secret stored under the pool's HOME
    assert not sandbox.paths.warehouse.with_name("warehouse.duckdb.tmp").exists()


def rows(result: Any) -> list[list[Any]]:
    assert not result.isError, text_of(result)
    return json.loads(text_of(result))["rows"]


async def test_locked_warehouse_still_answers_plain_sql_within_its_limits(sandbox: Sandbox) -> None:
    names = "('enable_external_access', 'threads', 'lock_configuration', 'autoinstall_known_extensions')"
    settings = f"SELECT name, value FROM duckdb_settings() WHERE name IN {names} ORDER BY name"
    async with sandbox.client("warehouse") as warehouse:
        counted = await warehouse.call_tool("execute_query", {"sql": "SELECT count(*) AS n FROM accounts"})
        limits = await warehouse.call_tool("execute_query", {"sql": settings})
        tables = await warehouse.call_tool("list_tables", {})
        columns = await warehouse.call_tool("list_columns", {"table": "industry_stats"})
    assert rows(counted) == [[len(sandbox.world.companies)]]
    assert rows(limits) == [
        ["autoinstall_known_extensions", "false"], ["enable_external_access", "false"],
        ["lock_configuration", "true"], ["threads", "2"],
    ]  # fmt: skip
    assert "revenue_by_quarter" in text_of(tables)
    assert "industry" in text_of(columns)


async def test_concurrent_queries_on_one_server_each_get_their_own_rows(sandbox: Sandbox) -> None:
    """One launcher process over stdio, many calls in flight: a shared connection would hand out other calls' rows."""
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "orchestra.sandbox.servers.warehouse", "--db-path", str(sandbox.paths.warehouse)],
        env={"HOME": str(sandbox.paths.root.parent), "FASTMCP_CHECK_FOR_UPDATES": "off"},
        cwd=ROOT,
    )
    queries = [f"SELECT count(*) + {n} AS n FROM accounts, range(2000)" for n in range(40)]
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        results = await asyncio.gather(*(session.call_tool("execute_query", {"sql": sql}) for sql in queries))
        refused = await session.call_tool("execute_query", {"sql": "SELECT * FROM read_text('/etc/passwd')"})
    accounts = len(sandbox.world.companies) * 2000
    assert [rows(result) for result in results] == [[[accounts + n]] for n in range(40)]
    assert refused.isError
    assert "disabled by configuration" in text_of(refused)


def test_the_launcher_refuses_to_start_without_a_warehouse(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "orchestra.sandbox.servers.warehouse", "--db-path", str(tmp_path / "none.duckdb")]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "orchestra sandbox up" in done.stderr
    assert done.stdout == ""  # stdout belongs to the protocol
