"""`make run` (`python -m tools.run`): the bot with the demo register, and the Microsoft 365 Agents Playground
(a local Teams-like web client) pointed at it. Everything listens on 127.0.0.1 and nothing talks to anything
but loopback: the Playground runs under tools/playground-guard.cjs, which binds it to 127.0.0.1 and refuses
every outbound connection and DNS lookup that is not loopback (it tries Azure instance metadata and
Application Insights even with telemetry off).

    make run                       # bot on 127.0.0.1:3978, Playground on http://127.0.0.1:56150
    REGISTER_PORT=3980 PLAYGROUND_PORT=56151 make run
    REGISTER_DB=/tmp/demo.db make run   # default data/register.db; the demo register is loaded if it is empty
    PLAYGROUND_DIR=/tmp/pg make run     # the Playground's config and log (default data/playground/)

Ctrl-C (or SIGTERM) stops both. Each child runs in its own process group and is stopped as a group (SIGTERM,
then SIGKILL after a few seconds); if this process dies without cleaning up, the kernel sends the children
SIGTERM (PR_SET_PDEATHSIG), so nothing is left behind.

`start()` / `LocalStack` are the same thing as a library, for tests: both servers on free loopback ports.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GUARD = ROOT / "tools" / "playground-guard.cjs"
PLAYGROUND_PACKAGE = ROOT / "node_modules" / "@microsoft" / "m365agentsplayground"
HOST = "127.0.0.1"
DEFAULT_BOT_PORT = 3978
DEFAULT_PLAYGROUND_PORT = 56150
BOT_NAME = "Register"
TENANT_ID = "00000000-0000-0000-0000-0000000000001"

# Never handed to the children: a proxy would carry "loopback" traffic off the machine, and an app id would
# make the bot demand tokens the Playground cannot send (it sends no Authorization header) and fetch its own
# from Microsoft for every reply.
DROPPED_ENV = (
    "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY",
    "http_proxy", "https_proxy", "all_proxy", "no_proxy", "NODE_OPTIONS",
    "MicrosoftAppId", "MicrosoftAppPassword", "MicrosoftAppType", "MicrosoftAppTenantId",
)

#: The Playground's current user (Alex Wilber, below): an administrator of the demo register.
DEMO_ADMIN = "00000000-0000-0000-0000-0000000000020"

# A Playground configuration like its built-in one, except that the bot is called "Register" (so it is
# @mentioned as in Teams). Its schema wants at least 5 `users` besides currentUser.
PLAYGROUND_CONFIG = """\
version: "0.1.1"
tenantId: {tenant}
bot:
  id: 00000000-0000-0000-0000-00000000000011
  name: {bot_name}
currentUser:
  id: user-id-0
  name: Alex Wilber
  userPrincipleName: alexw@example.com
  aadObjectId: 00000000-0000-0000-0000-0000000000020
  givenName: Alex
  surname: Wilber
  email: alexw@example.com
users:
  - id: user-id-1
    name: Megan Bowen
    userPrincipleName: meganb@example.com
    aadObjectId: 00000000-0000-0000-0000-0000000000021
    givenName: Megan
    surname: Bowen
    email: meganb@example.com
  - id: user-id-2
    name: Adele Vance
    userPrincipleName: adelev@example.com
    aadObjectId: 00000000-0000-0000-0000-0000000000022
    givenName: Adele
    surname: Vance
    email: adelev@example.com
  - id: user-id-3
    name: Isaiah Langer
    userPrincipleName: isaiahl@example.com
    aadObjectId: 00000000-0000-0000-0000-0000000000023
    givenName: Isaiah
    surname: Langer
    email: isaiahl@example.com
  - id: user-id-4
    name: Patti Fernandez
    userPrincipleName: pattif@example.com
    aadObjectId: 00000000-0000-0000-0000-0000000000024
    givenName: Patti
    surname: Fernandez
    email: pattif@example.com
  - id: user-id-5
    name: Lynne Robbins
    userPrincipleName: lynner@example.com
    aadObjectId: 00000000-0000-0000-0000-0000000000025
    givenName: Lynne
    surname: Robbins
    email: lynner@example.com
personalChat:
  id: {personal_chat}
groupChat:
  id: {group_chat}
  name: Housing team chat
team:
  id: team-id
  name: Housing Services
  aadGroupId: 00000000-0000-0000-0000-000000000031
  channels:
    - id: channel-visits-id
      name: Visits
"""


class StartError(RuntimeError):
    """Something stopped the local stack from starting; the message says what and what to do."""


# -- helpers -------------------------------------------------------------------------------------------------


def port_in_use(port: int, host: str = HOST) -> bool:
    """True if something accepts connections on host:port, or the port cannot be bound there."""
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.3):
        return True
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return True
    return False


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def find_node() -> str:
    node = shutil.which("node")
    if not node:
        raise StartError("node is not on PATH: install Node.js 20 (the Agents Playground needs it)")
    return node


def playground_cli() -> Path:
    """The Playground's CLI script, from its package.json `bin` (0.2.28: cli.js, as `agentsplayground`)."""
    manifest = PLAYGROUND_PACKAGE / "package.json"
    if not manifest.is_file():
        raise StartError(f"{PLAYGROUND_PACKAGE.relative_to(ROOT)} is missing: run `make install` (npm ci)")
    bin_ = json.loads(manifest.read_text()).get("bin") or {}
    entry = bin_.get("agentsplayground") or bin_.get("teamsapptester") if isinstance(bin_, dict) else bin_
    cli = PLAYGROUND_PACKAGE / (entry or "cli.js")
    if not cli.is_file():
        raise StartError(f"the Playground's CLI {cli} is missing: run `make install` (npm ci)")
    return cli


def child_env(base: Mapping[str, str] | None = None, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in (os.environ if base is None else base).items() if k not in DROPPED_ENV}
    env.update(extra)
    return env


def _no_proxy_opener() -> urllib.request.OpenerDirector:
    return urllib.request.build_opener(urllib.request.ProxyHandler({}))


def http_ok(url: str, timeout: float = 1.0) -> bool:
    try:
        with _no_proxy_opener().open(url, timeout=timeout) as response:
            return 200 <= response.status < 300
    except (urllib.error.URLError, OSError, ValueError):
        return False


PR_SET_PDEATHSIG = 1
_prctl: Callable[..., int] | None = None
if sys.platform.startswith("linux"):
    with contextlib.suppress(OSError, TypeError, AttributeError):
        _prctl = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True).prctl


def _die_with_parent() -> None:
    """Runs in the child between fork and exec: SIGTERM it when the thread that started it dies (Linux only),
    so a `make run` killed with SIGKILL leaves no orphans. Start children from a long-lived thread."""
    if _prctl is not None:  # it is only passed as preexec_fn when there is one
        _prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


# -- one child process ---------------------------------------------------------------------------------------


@dataclass
class Child:
    """A child in its own process group; its stdout+stderr go, line by line, to `sink` and to `tail`."""

    name: str
    popen: subprocess.Popen
    sink: Callable[[str, str], None]
    tail: deque = field(default_factory=lambda: deque(maxlen=200))
    watchers: list[Callable[[str], None]] = field(default_factory=list)
    readers: list[threading.Thread] = field(default_factory=list)
    finished: threading.Event = field(default_factory=threading.Event)

    @classmethod
    def spawn(cls, name: str, argv: list[str], env: Mapping[str, str], cwd: Path,
              sink: Callable[[str, str], None]) -> Child:
        popen = subprocess.Popen(
            argv, cwd=cwd, env=dict(env), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, start_new_session=True,
            preexec_fn=_die_with_parent if _prctl is not None else None,
            text=True, encoding="utf-8", errors="replace", bufsize=1,
        )
        child = cls(name=name, popen=popen, sink=sink)
        child._thread(child._read_stdout, "output")
        return child

    def _thread(self, target: Callable[[], None], what: str) -> None:
        reader = threading.Thread(target=target, name=f"{self.name}-{what}", daemon=True)
        self.readers.append(reader)
        reader.start()

    def _line(self, raw: str) -> None:
        line = raw.rstrip("\n")
        self.tail.append(line)
        for watch in list(self.watchers):
            watch(line)
        with contextlib.suppress(Exception):
            self.sink(self.name, line)

    def _read_stdout(self) -> None:
        assert self.popen.stdout is not None
        for raw in self.popen.stdout:
            self._line(raw)

    def follow(self, path: Path) -> None:
        """Also treat the lines appended to `path` as output (the Playground writes its log there and, when its
        stdout is not a terminal, almost nothing to stdout)."""

        def tail_file() -> None:
            handle = None
            try:
                while True:
                    done = self.finished.is_set()
                    if handle is None and path.exists():
                        handle = path.open(encoding="utf-8", errors="replace")
                    if handle is not None:
                        while line := handle.readline():
                            self._line(line)
                    if done:
                        return
                    self.finished.wait(0.1)
            finally:
                if handle is not None:
                    handle.close()

        self._thread(tail_file, "log")

    @property
    def alive(self) -> bool:
        return self.popen.poll() is None

    def output(self) -> str:
        return "\n".join(self.tail)

    def stop(self, timeout: float = 5.0) -> None:
        """SIGTERM to the whole group, then SIGKILL to what is left of it. Waits for the child."""
        pgid = self.popen.pid  # start_new_session: the child leads its own group
        if self.alive:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pgid, signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGKILL)  # stragglers in the group, or a child that ignored SIGTERM
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(timeout)
        self.finished.set()
        for reader in self.readers:
            reader.join(timeout=2.0)
        if self.popen.stdout is not None:
            with contextlib.suppress(OSError):
                self.popen.stdout.close()


# -- the stack -----------------------------------------------------------------------------------------------


@dataclass
class LocalStack:
    bot_url: str
    playground_url: str
    workdir: Path
    children: list[Child] = field(default_factory=list)

    @property
    def messaging_endpoint(self) -> str:
        return f"{self.bot_url}/api/messages"

    def logs(self) -> str:
        return "\n".join(f"---- {c.name} (exit {c.popen.poll()}) ----\n{c.output()}" for c in self.children)

    def dead(self) -> list[Child]:
        return [c for c in self.children if not c.alive]

    def stop(self) -> None:
        for child in reversed(self.children):  # the Playground first, then the bot
            child.stop()

    def __enter__(self) -> LocalStack:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _wait_until(check: Callable[[], bool], child: Child, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        if not child.alive:
            time.sleep(0.3)  # let the readers catch its last words
            raise StartError(f"{child.name} exited (code {child.popen.returncode}) before {what}:\n"
                             f"{child.output()}")
        time.sleep(0.1)
    raise StartError(f"{child.name} was not ready ({what}) within {timeout:.0f} s:\n{child.output()}")


def _print_sink(name: str, line: str) -> None:
    print(f"{name:>10} | {line}", flush=True)


def _busy(port: int, what: str, variable: str) -> StartError:
    return StartError(f"Port {port} on {HOST} is already in use, so the {what} cannot start there. Stop "
                      f"whatever uses it (another `make run`?) or choose another port: {variable}=<port> make run")


def start(
    *,
    bot_port: int | None = None,
    playground_port: int | None = None,
    db: str | os.PathLike | None = None,
    workdir: str | os.PathLike | None = None,
    env: Mapping[str, str] | None = None,
    sink: Callable[[str, str], None] | None = None,
    timeout: float = 45.0,
) -> LocalStack:
    """Start the bot (demo register if its store is empty) and the guarded Playground pointed at it, both on
    127.0.0.1, and wait until both answer. Ports default to free ones; `db` defaults to the bot's own default
    (REGISTER_DB or data/register.db). Output goes to `sink(name, line)` (default: discarded; see
    LocalStack.logs()). Raises StartError, with everything stopped, if either does not come up.
    Call it from a thread that outlives the stack (the main thread): on Linux the children get SIGTERM when
    the thread that started them ends."""
    node = find_node()
    cli = playground_cli()
    if not GUARD.is_file():
        raise StartError(f"{GUARD} is missing")
    bot_port = free_port() if bot_port is None else bot_port
    playground_port = free_port() if playground_port is None else playground_port
    if bot_port == playground_port:
        raise StartError(f"the bot and the Playground cannot both use port {bot_port}")
    if port_in_use(bot_port):
        raise _busy(bot_port, "bot", "REGISTER_PORT")
    if port_in_use(playground_port):
        raise _busy(playground_port, "Agents Playground", "PLAYGROUND_PORT")
    work = Path(workdir) if workdir is not None else Path(tempfile.mkdtemp(prefix="mcr-run-"))
    work.mkdir(parents=True, exist_ok=True)
    sink = sink or (lambda name, line: None)
    stack = LocalStack(bot_url=f"http://{HOST}:{bot_port}", playground_url=f"http://{HOST}:{playground_port}",
                       workdir=work)
    try:
        # The Playground's own user administers the demo register, so `pending`, `entry` and `audit` can be tried.
        admins = (os.environ if env is None else env).get("REGISTER_ADMINS") or DEMO_ADMIN
        bot_env = child_env(env, REGISTER_HOST=HOST, REGISTER_PORT=str(bot_port), REGISTER_DEMO="1",
                            PYTHONUNBUFFERED="1", NO_PROXY="127.0.0.1,localhost,::1", REGISTER_ADMINS=admins)
        if db is not None:  # this SQLite file, whatever the environment says
            bot_env["REGISTER_DB"] = str(db)
            bot_env.pop("COSMOS_ENDPOINT", None)
        bot = Child.spawn("bot", [sys.executable, "-m", "bot.app"], bot_env, ROOT, sink)
        stack.children.append(bot)
        health = f"{stack.bot_url}/healthz"
        _wait_until(lambda: http_ok(health), bot, timeout, f"answering {health}")

        config = work / ".m365agentsplayground.yml"
        config.write_text(PLAYGROUND_CONFIG.format(tenant=TENANT_ID, bot_name=BOT_NAME,
                                                   personal_chat=uuid.uuid4(), group_chat=uuid.uuid4()))
        pg_env = child_env(
            env,
            TEAMSAPPTESTER_BROWSER="none",  # do not try to open a browser
            M365_AGENTS_PLAYGROUND_CONFIG_PATH=str(config),
            M365_AGENTS_PLAYGROUND_LOGFILE=str(work / "playground.log"),  # default: ./devTools/ in the cwd
            APPLICATION_INSIGHTS_NO_STATSBEAT="1",
            NODE_OPTIONS=f'--require "{GUARD}"',  # also guards any node process it might start
        )
        argv = [node, "--require", str(GUARD), str(cli),
                "--app-endpoint", stack.messaging_endpoint, "--channel-id", "msteams",
                "--port", str(playground_port), "--service-url", f"{stack.playground_url}/_connector",
                "--disable-telemetry"]
        listening: list[int] = []
        pattern = re.compile(r"^Listening on (\d+)")

        def on_line(line: str) -> None:
            if m := pattern.match(line):
                listening.append(int(m.group(1)))

        log_file = work / "playground.log"
        log_file.unlink(missing_ok=True)  # it appends; start each run with an empty log
        playground = Child.spawn("playground", argv, pg_env, work, sink)
        playground.watchers.append(on_line)
        playground.follow(log_file)
        stack.children.append(playground)
        _wait_until(lambda: bool(listening), playground, timeout, "listening")
        if listening[0] != playground_port:
            # it silently moves to a random port when its port is taken (and our --service-url would be wrong)
            raise _busy(playground_port, "Agents Playground", "PLAYGROUND_PORT")
        _wait_until(lambda: http_ok(f"{stack.playground_url}/_debug/ping"), playground, timeout,
                    f"answering {stack.playground_url}/_debug/ping")
        return stack
    except BaseException:
        stack.stop()
        raise


# -- make run ------------------------------------------------------------------------------------------------


class _Stop(Exception):
    pass


def _port_from_env(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    if not value.isdigit() or not 0 < int(value) < 65536:
        raise StartError(f"{name}={value!r} is not a port number")
    return int(value)


def main() -> int:
    def on_signal(signum: int, frame: object) -> None:
        raise _Stop(signal.Signals(signum).name)

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    stack: LocalStack | None = None
    try:
        dropped = sorted(k for k in ("MicrosoftAppId", "MicrosoftAppPassword") if os.environ.get(k))
        if dropped:
            print(f"note: ignoring {', '.join(dropped)}: the Playground sends no tokens, so the local bot "
                  "runs unauthenticated on 127.0.0.1", flush=True)
        workdir = Path(os.environ.get("PLAYGROUND_DIR") or ROOT / "data" / "playground")
        stack = start(bot_port=_port_from_env("REGISTER_PORT", DEFAULT_BOT_PORT),
                      playground_port=_port_from_env("PLAYGROUND_PORT", DEFAULT_PLAYGROUND_PORT),
                      workdir=workdir, sink=_print_sink)
        print(
            "\n"
            f"  The bot is answering on {stack.messaging_endpoint} (demo register).\n"
            f"  Open {stack.playground_url} in your browser: the Microsoft 365 Agents Playground.\n"
            "  Try `check 12 High St`, `check PR7 2SE` or `help` in the personal chat; in the group\n"
            f"  chat or a channel, @mention the bot: `@{BOT_NAME} check 12 High Street`.\n"
            "  Press Ctrl-C to stop both.\n",
            flush=True,
        )
        while True:
            dead = stack.dead()
            if dead:
                names = ", ".join(f"{c.name} (exit {c.popen.returncode})" for c in dead)
                print(f"\nstopped: {names} exited; stopping the rest", file=sys.stderr, flush=True)
                return 1
            time.sleep(0.5)
    except StartError as exc:
        print(f"\nmake run: {exc}", file=sys.stderr, flush=True)
        return 2
    except (_Stop, KeyboardInterrupt):
        print("\nstopping the bot and the Playground ...", flush=True)
        return 0
    finally:
        # no signal may interrupt the clean-up
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if stack is not None:
            stack.stop()
            print("stopped.", flush=True)


if __name__ == "__main__":
    sys.exit(main())
