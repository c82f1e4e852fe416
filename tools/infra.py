"""Write infra/cosmos-containers.json: the Cosmos DB containers the bot expects, for infra/azure.bicep.

    python -m tools.infra            # rewrite the file from storage/cosmos.py
    python -m tools.infra --check    # exit 1 if the file differs (tests/test_infra.py does the same)

The Bicep reads the file with loadJsonContent(), so container names, the partition key and the indexing policies
have one source, storage/cosmos.py (the same one `register-admin init` uses), and a test fails when they drift.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CONTAINERS_FILE = ROOT / "infra" / "cosmos-containers.json"


def containers() -> list[dict[str, Any]]:
    from storage.cosmos import CONTAINERS, INDEXING_POLICIES, PK_PATH, TTL_CONTAINERS  # noqa: PLC0415

    return [{"name": name, "partitionKey": PK_PATH, "indexingPolicy": INDEXING_POLICIES[name],
             **({"defaultTtl": -1} if name in TTL_CONTAINERS else {})}
            for name in CONTAINERS]


def rendered() -> str:
    return json.dumps(containers(), indent=2) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.infra", description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="only say whether the file is up to date")
    args = parser.parse_args(argv)
    if args.check:
        current = CONTAINERS_FILE.read_text() if CONTAINERS_FILE.exists() else ""
        if current != rendered():
            print(f"{CONTAINERS_FILE} is out of date: run python -m tools.infra", file=sys.stderr)
            return 1
        return 0
    CONTAINERS_FILE.write_text(rendered())
    print(f"wrote {CONTAINERS_FILE}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
