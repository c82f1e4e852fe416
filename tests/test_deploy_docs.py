"""The deployment guide (docs/deploy.md) stays true to the code: every setting the code reads is in the configuration
reference, every command it tells an administrator to run exists, and the upgrade note classifies every file of bot/."""

from __future__ import annotations

import contextlib
import io
import re

from tests.deploy_facts import ROOT, settings_the_code_reads, start_command
from tests.test_infra import app_settings

GUIDE = (ROOT / "docs" / "deploy.md").read_text()
README = (ROOT / "README.md").read_text()


def section(title: str) -> str:
    text = GUIDE[GUIDE.index(f"## {title}\n"):]
    following = text.find("\n## ", 1)
    return text if following < 0 else text[:following]


def test_the_configuration_reference_names_every_setting_the_code_reads_and_every_app_setting():
    reference = section("Configuration reference")
    named = set(re.findall(r"`([A-Za-z_][A-Za-z0-9_]+)`", reference))
    missing = (settings_the_code_reads() | set(app_settings())) - named
    assert not missing, f"add to docs/deploy.md, Configuration reference: {sorted(missing)}"


def test_the_readme_links_the_guide_and_its_configuration_reference():
    assert "](docs/deploy.md)" in README and "](docs/deploy.md#configuration-reference)" in README


def test_every_register_admin_command_in_the_guide_exists():
    from admin.cli import _parser

    parser = _parser()
    commands = re.findall(r"^register-admin ([a-z]+(?: [a-z]+)?)", GUIDE, re.M)
    assert len(commands) >= 5
    for command in commands:
        words = command.split()
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            try:
                parser.parse_args([*words, "--help"])
            except SystemExit as exc:
                assert exc.code == 0, command


def test_the_guide_names_the_start_command_the_code_installs():
    name, target = start_command()
    assert f"start command `{name}`" in GUIDE and f"`python -m {target.split(':')[0]}`" in GUIDE


def test_the_upgrade_note_classifies_every_file_of_bot():
    note = section("Upgrading: from botbuilder to the Microsoft 365 Agents SDK")
    named = set(re.findall(r"`bot/(\w+\.py)`", note))
    files = {p.name for p in (ROOT / "bot").glob("*.py") if p.name != "__init__.py"}
    assert files == named, f"classify in docs/deploy.md, Upgrading: {sorted(files ^ named)}"
    # the SDK replacements are one package, replaced as a whole: the note names it and every module in it
    assert "`bot/sdk/`" in note
    for module in (ROOT / "bot" / "sdk").glob("*.py"):
        assert module.name == "__init__.py" or f"`{module.name}`" in note, module.name
    # the files the note says will not change import no SDK
    for name in ("router.py", "handlers.py"):
        source = (ROOT / "bot" / name).read_text()
        assert not re.search(r"^\s*(from|import) (botbuilder|botframework)", source, re.M), name
