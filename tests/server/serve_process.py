"""A test server in a process of its own, for the tests with several server processes on one Redis:

    python -m tests.server.serve_process PORT DATA_DIR LOST_AFTER

The `orchestra serve` app with the test graphs under uvicorn, `REDIS_URL` and the keys from the environment, and no
gateway (the test graphs call no tools). Its event loop runs under blockbuster, as the in-process tests run theirs, so
a blocking call in the server's code fails the request that made it.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import uvicorn
from blockbuster import blockbuster_ctx

from orchestra.core.settings import OrchestraSettings
from orchestra.server.app import create_app
from orchestra.server.config import ServerConfig
from tests.server.graphs import all_graphs

UNUSED_GATEWAY = "http://127.0.0.1:9"


def main(port: int, data_dir: Path, lost_after: float) -> None:
    server = ServerConfig.model_validate({"runs": {"lost_after": lost_after}})
    settings = OrchestraSettings(data_dir=data_dir, server=server)
    app = create_app(settings, dict(os.environ), gateway_url=UNUSED_GATEWAY, graphs=all_graphs())
    with blockbuster_ctx("orchestra.server") as buster:
        for function in buster.functions.values():  # as in conftest.py: redis-py reads its own metadata
            function.can_block_functions.append(("redis/utils.py", {"get_lib_version"}))
        uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", log_config=None)


if __name__ == "__main__":
    main(int(sys.argv[1]), Path(sys.argv[2]), float(sys.argv[3]))
