"""Run the conformance suite by hand, directly and through real gateways, and print the per-scenario table.

    .venv/bin/python -m tests.conformance                                    # 0.1.16, --suite all
    .venv/bin/python -m tests.conformance --suite 0.2.0-alpha.12 --spec-version 2026-07-28
    .venv/bin/python -m tests.conformance --url http://127.0.0.1:3001/mcp   # another server, directly only
    .venv/bin/python -m tests.conformance --server modern   # the 2026-07-28 server and suite (0.2.0-alpha.12)

Results (every scenario's checks.json) stay under --out (a fresh temporary directory by default).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path

from tests.conformance.harness import (
    ENDPOINTS,
    SUITES,
    check_installed,
    compare,
    conformance_server,
    gateways,
    lost_checks,
    run_everywhere,
    table,
)


async def main(args: argparse.Namespace) -> int:
    out = Path(args.out or tempfile.mkdtemp(prefix="conformance-"))
    if args.url:
        runs = await run_everywhere(args.suite, {"direct": args.url}, out, args.spec_version)
    else:
        modern = args.server == "modern"
        with conformance_server(modern) as server_url:
            async with gateways(server_url, modern) as urls:
                chosen = {endpoint: urls[endpoint] for endpoint in args.endpoints.split(",")}
                runs = await run_everywhere(args.suite, chosen, out, args.spec_version)
    print(f"suite {args.suite}" + (f", --spec-version {args.spec_version}" if args.spec_version else ""))
    print(table(runs))
    if "direct" in runs:
        for endpoint, run in runs.items():
            if endpoint != "direct":
                for scenario, reason in compare(runs["direct"], run).items():
                    print(f"{endpoint:>10}  FAIL {scenario}: {reason[:200]}")
                for scenario, reason in lost_checks(runs["direct"], run).items():
                    print(f"{endpoint:>10}  lost checks {scenario}: {reason[:200]}")
    print(f"results in {out}; " + ", ".join(f"{e} {run.seconds:.1f}s" for e, run in runs.items()))
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m tests.conformance", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--server",
        choices=("legacy", "modern"),
        default="legacy",
        help="our server under test: legacy (mcp 1.x, 2025 revisions) or modern (mcp 2.x, 2026-07-28)",
    )
    parser.add_argument(
        "--suite", choices=sorted(SUITES), help="0.1.16 by default, 0.2.0-alpha.12 with --server modern"
    )
    parser.add_argument("--spec-version", help="default: none, or 2026-07-28 with --server modern")
    parser.add_argument(
        "--endpoints",
        default=",".join(ENDPOINTS),
        help="comma-separated subset of: " + ", ".join(ENDPOINTS),
    )
    parser.add_argument("--url", help="test this server directly instead of ours")
    parser.add_argument("--out")
    arguments = parser.parse_args()
    modern = arguments.server == "modern" and not arguments.url
    arguments.suite = arguments.suite or ("0.2.0-alpha.12" if modern else "0.1.16")
    if modern and arguments.spec_version is None:
        arguments.spec_version = "2026-07-28"
    problem = check_installed(modern)
    if problem:
        sys.exit(problem)
    sys.exit(asyncio.run(main(arguments)))
