"""The Dockerfile agrees with the app. No container engine runs here (the docker client is installed but there is no
daemon, and none can be started in this sandbox), so the image is never built: these tests read the Dockerfile, and
run its HEALTHCHECK command against the real app on loopback."""

from __future__ import annotations

import asyncio
import fnmatch
import json
import os
import shlex
import sys
import tomllib

from bot.settings import Settings
from tests.deploy_facts import ROOT, RUNTIME_PACKAGES, routes, start_command
from tests.teams import free_port

DOCKERFILE = (ROOT / "Dockerfile").read_text()
DOCKERIGNORE = (ROOT / ".dockerignore").read_text()


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order, continuation lines joined, comments dropped."""
    lines, current = [], ""
    for raw in DOCKERFILE.splitlines():
        if not current and (not raw.strip() or raw.lstrip().startswith("#")):
            continue
        current += raw.rstrip()
        if current.endswith("\\"):
            current = current[:-1] + " "
            continue
        word, _, rest = current.strip().partition(" ")
        lines.append((word.upper(), rest.strip()))
        current = ""
    return lines


def final_stage() -> list[tuple[str, str]]:
    steps = instructions()
    last_from = max(i for i, (word, _) in enumerate(steps) if word == "FROM")
    return steps[last_from:]


def env_of(stage: list[tuple[str, str]]) -> dict[str, str]:
    env: dict[str, str] = {}
    for word, args in stage:
        if word == "ENV":
            env.update(dict(item.split("=", 1) for item in shlex.split(args)))
    return env


def the(stage: list[tuple[str, str]], word: str) -> str:
    [args] = [a for w, a in stage if w == word]
    return args


def healthcheck_command() -> list[str]:
    args = the(final_stage(), "HEALTHCHECK")
    return json.loads(args[args.index("CMD") + 3:].strip())


def test_small_base_and_only_runtime_dependencies():
    bases = [a.split()[0] for w, a in instructions() if w == "FROM"]
    assert bases and set(bases) == {"python:3.11-slim"}
    installs = [a for w, a in instructions() if w == "RUN" and "pip install" in a]
    assert installs == ["pip install --no-cache-dir --no-compile --prefix=/install ."]  # no [test] extras
    for tool in ("node", "npm", "chromium", "playwright", "apt-get install"):
        assert tool not in " ".join(a for w, a in instructions() if w == "RUN"), tool


def test_the_image_runs_the_start_command_as_a_non_root_user():
    stage = final_stage()
    assert json.loads(the(stage, "CMD")) == [start_command()[0]]
    user = the(stage, "USER")
    assert user not in ("root", "0") and user.split(":")[0] != "0"
    assert any(w == "RUN" and f"--uid {user}" in a for w, a in stage)


def test_port_host_and_healthcheck_agree_with_the_apps_settings():
    stage = final_stage()
    env = env_of(stage)
    settings = Settings.from_env(env)
    assert settings.host == "0.0.0.0"
    assert the(stage, "EXPOSE") == str(settings.port)
    # off loopback the app refuses to start unless authentication is on; with an app id and tenants it starts
    assert "MicrosoftAppId is not set" in (settings.startup_problem() or "")
    production = Settings.from_env({**env, "MicrosoftAppId": "id", "REGISTER_TENANTS": "tenant"})
    assert production.startup_problem() is None
    assert "/healthz" in healthcheck_command()[-1] and "/healthz" in routes("GET")
    assert "REGISTER_PORT" in healthcheck_command()[-1]


async def run_healthcheck(port: str) -> int:
    command = healthcheck_command()
    command[0] = sys.executable  # the image's `python`
    # a subprocess awaited, not waited for: the bot under test runs on this event loop
    proc = await asyncio.create_subprocess_exec(*command, env={**os.environ, "REGISTER_PORT": port},
                                                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
    return await asyncio.wait_for(proc.wait(), timeout=30)


async def test_the_healthcheck_command_passes_against_the_running_app_and_fails_without_it(bot):
    assert await run_healthcheck(bot.url.rsplit(":", 1)[1]) == 0
    assert await run_healthcheck(str(free_port())) != 0


def ignored(path: str) -> bool:
    """Docker's .dockerignore rules for these patterns: the last matching line wins, `!` re-includes."""
    verdict = False
    for line in DOCKERIGNORE.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        pattern = line.lstrip("!").rstrip("/")
        if fnmatch.fnmatch(path, pattern) or path.startswith(pattern + "/") or (
                pattern.startswith("**/") and fnmatch.fnmatch(path.rsplit("/", 1)[-1], pattern[3:])):
            verdict = not negate
    return verdict


def test_everything_copied_exists_is_in_the_build_context_and_is_the_installed_packages():
    sources = []
    for word, args in instructions():
        if word == "COPY" and not args.startswith("--from"):
            sources += args.split()[:-1]
    assert sources
    for source in sources:
        path = source.rstrip("/")
        assert (ROOT / path).exists(), source
        assert not ignored(path), f"{source} is excluded by .dockerignore"
    copied = {s.rstrip("/") for s in sources} - {"pyproject.toml"}
    assert copied == set(RUNTIME_PACKAGES)
    include = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]["include"]
    assert {p.rstrip("*") for p in include} == copied
    # and the context leaves out what must not reach an image
    for private in ("tests", "node_modules", ".venv", "data", ".git", "bench", "infra", "env"):
        assert ignored(private), private
