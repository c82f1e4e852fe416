"""The local Cosmos DB wire server for tests: `node tools/cosmos-server.cjs` on a free loopback port.

Fixtures (import them into a test module, or list this module in `pytest_plugins` of tests/conftest.py):
- `cosmos_server` (session): the running server; stopped by PID at the end of the session, also on failure.
- `cosmos_env` (session): the environment a CosmosStore needs (endpoint, the public emulator key,
  COSMOS_INSECURE_LOCAL=1, a database name unique to this session).
- `fresh_cosmos_env` (function): the same with a database of its own, created by `cosmos_admin.init` and
  deleted afterwards, so each test starts empty.

A missing `node`, a missing npm package or a server that does not start FAILS the test with the reason:
these tests are part of the suite, never silently skipped.
"""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "tools" / "cosmos-server.cjs"
PACKAGE = REPO / "node_modules" / "@vercel" / "cosmosdb-server" / "package.json"
#: The well-known public key of the Cosmos DB emulator (not a secret); the local server takes any base64 key.
EMULATOR_KEY = "C2y6yDjf5/R+ob0N8A7Cgv30VRDJIWEHLM+4QDU5DE2nQ9nDuVTqobD4b8mGGyPMbIZnqyMsEcaGQy67XIw/Jw=="
READY = "COSMOS_READY port="

_running: dict[int, subprocess.Popen[bytes]] = {}


class CosmosServerError(RuntimeError):
    pass


class CosmosServer:
    """One `node tools/cosmos-server.cjs` process. Start, stop (by PID), pause/resume (SIGSTOP/SIGCONT, to
    simulate a hung server), restart on the same port. Everything the server holds is in memory."""

    def __init__(self, port: int = 0, *, keep_alive: bool = True):
        self.port = port
        self.keep_alive = keep_alive
        self.proc: subprocess.Popen[bytes] | None = None
        self._log = tempfile.NamedTemporaryFile(prefix="cosmos-server-", suffix=".log", delete=False)

    @property
    def endpoint(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def env(self, database: str) -> dict[str, str]:
        return {
            "COSMOS_ENDPOINT": self.endpoint,
            "COSMOS_KEY": EMULATOR_KEY,
            "COSMOS_INSECURE_LOCAL": "1",
            "COSMOS_DATABASE": database,
        }

    def log_text(self) -> str:
        try:
            return Path(self._log.name).read_text(errors="replace")[-4000:]
        except OSError:
            return ""

    def start(self, timeout: float = 15.0) -> CosmosServer:
        node = shutil.which("node")
        if node is None:
            raise CosmosServerError("`node` is not on PATH: the Cosmos DB tests need Node.js 20+ "
                                    "(and `npm install` in the repository root)")
        if not PACKAGE.exists():
            raise CosmosServerError(f"{PACKAGE.parent} is missing: run `npm install` in {REPO}")
        args = [node, str(SCRIPT), "--port", str(self.port)]
        if not self.keep_alive:
            args.append("--no-keep-alive")
        out = open(self._log.name, "ab")  # handed to the child process
        offset = out.tell()
        try:
            self.proc = subprocess.Popen(args, cwd=REPO, stdout=out, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL)
        finally:
            out.close()
        _running[self.proc.pid] = self.proc
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = Path(self._log.name).read_bytes()[offset:].decode(errors="replace")
            for line in text.splitlines():
                if line.startswith(READY):
                    self.port = int(line[len(READY):].strip())
                    return self
            code = self.proc.poll()
            if code is not None:
                self.stop()
                raise CosmosServerError(f"the Cosmos DB server exited with status {code}:\n{text}")
            time.sleep(0.02)
        self.stop()
        raise CosmosServerError(
            f"the Cosmos DB server was not ready within {timeout:.0f} s:\n{self.log_text()}")

    def stop(self) -> None:
        """Stop by PID: SIGTERM, then SIGKILL if it has not exited after 5 s. Idempotent."""
        proc, self.proc = self.proc, None
        if proc is None:
            return
        _running.pop(proc.pid, None)
        if proc.poll() is None:
            try:
                os.kill(proc.pid, signal.SIGCONT)  # a paused process cannot handle SIGTERM
                proc.terminate()
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
            except ProcessLookupError:
                pass

    def kill(self) -> None:
        """Crash it (SIGKILL by PID), as a machine or network failure would."""
        proc, self.proc = self.proc, None
        if proc is None:
            return
        _running.pop(proc.pid, None)
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=5)

    def pause(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGSTOP)

    def resume(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGCONT)

    def restart(self, timeout: float = 15.0) -> CosmosServer:
        """Start again on the same port (the store keeps its endpoint). The data is gone."""
        self.stop()
        return self.start(timeout)

    def close(self) -> None:
        self.stop()
        try:
            os.unlink(self._log.name)
        except OSError:
            pass

    def __enter__(self) -> CosmosServer:
        return self.start() if self.proc is None else self

    def __exit__(self, *exc: object) -> None:
        self.close()


@atexit.register
def _stop_leftovers() -> None:
    # A test run interrupted between start and teardown must not leave servers behind.
    for pid, proc in list(_running.items()):
        if proc.poll() is None:
            try:
                os.kill(pid, signal.SIGCONT)
                proc.kill()
            except ProcessLookupError:
                pass


def start_server(**kwargs: object) -> CosmosServer:
    """Start a server or FAIL the calling test with the reason (never skip)."""
    server = CosmosServer(**kwargs)  # type: ignore[arg-type]
    try:
        return server.start()
    except CosmosServerError as exc:
        server.close()
        pytest.fail(str(exc), pytrace=False)


def unique_database(prefix: str = "register-test") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="session")
def cosmos_server() -> Iterator[CosmosServer]:
    server = start_server()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture(scope="session")
def cosmos_env(cosmos_server: CosmosServer) -> dict[str, str]:
    return cosmos_server.env(unique_database("register-session"))


async def drop_database(env: dict[str, str]) -> None:
    from storage.cosmos import CosmosSettings, open_client  # noqa: PLC0415

    client, _ = await open_client(CosmosSettings.from_env(env))
    try:
        await client.delete_database(env["COSMOS_DATABASE"])
    except Exception:  # noqa: BLE001 - best effort: the server may be gone already
        pass
    finally:
        await client.close()


@pytest.fixture
async def fresh_cosmos_env(cosmos_env: dict[str, str]) -> AsyncIterator[dict[str, str]]:
    from storage.cosmos_admin import init  # noqa: PLC0415

    env = {**cosmos_env, "COSMOS_DATABASE": unique_database()}
    await init(env)
    try:
        yield env
    finally:
        await drop_database(env)
