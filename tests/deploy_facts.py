"""Facts about the code that the deployment files (infra/, m365agents*.yml, Dockerfile, README) must agree with,
read from the code itself so that a change on either side fails a test."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RUNTIME_PACKAGES = ("bot", "storage", "register", "admin", "cards")
_READ = re.compile(r'(?:\.get\(|_csv_env\(|env\[)\s*"((?:[A-Z][A-Z0-9_]+|Microsoft\w+))"')
_LISTED = re.compile(r'"(TO_BOT_FROM_\w+|CHANNEL_SERVICE)"')  # bot/settings.py copies these in a loop


def settings_the_code_reads() -> set[str]:
    """Every environment variable the bot and register-admin read (bot/settings.py, storage/, admin/cli.py)."""
    names: set[str] = set()
    for package in RUNTIME_PACKAGES:
        for path in (ROOT / package).glob("*.py"):
            text = path.read_text()
            names |= set(_READ.findall(text)) | set(_LISTED.findall(text))
    return names


def start_command() -> tuple[str, str]:
    """(script name, entry point) of the bot's console script in pyproject.toml."""
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    [(name, target)] = [(n, t) for n, t in scripts.items() if t == "bot.app:main"]
    return name, target


def routes(method: str) -> set[str]:
    """The paths the app serves for `method` (the app is built, not started: no store is opened)."""
    from bot.app import create_app
    from bot.settings import Settings

    app = create_app(Settings())
    return {r.resource.canonical for r in app.router.routes() if r.method == method and r.resource is not None}
