"""The Teams app package: command lists that follow the router, valid against the official manifest schema (ours
and the Microsoft 365 Agents Toolkit CLI's, offline), icons Teams accepts, app id and version from the environment."""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import sys
import zipfile
import zlib
from pathlib import Path

from register.permissions import Role
from tools.manifest import (
    MANIFEST_DIR,
    ROOT,
    SCHEMAS,
    build_manifest,
    outline_problems,
    package,
    png_info,
    problems,
    project_version,
    rgba_pixels,
)

APP_ID = "2b7c5e1a-4f1d-4a8e-9c55-1d0c7a3e9b21"
GUARD = ROOT / "tools" / "playground-guard.cjs"
TOOLKIT_CLI = ROOT / "node_modules" / "@microsoft" / "m365agentstoolkit-cli" / "cli.js"


def icons():
    return {n: (MANIFEST_DIR / n).read_bytes() for n in ("color.png", "outline.png")}


def make_png(width: int, height: int, pixel) -> bytes:
    """An 8-bit RGBA PNG whose pixel (x, y) is pixel(x, y): enough to build bad icons."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    rows = b"".join(b"\x00" + b"".join(bytes(pixel(x, y)) for x in range(width)) for y in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def router_commands():
    from bot.handlers import build_router
    from register.service import Register

    return build_router(Register(None)).commands  # type: ignore[arg-type]


def test_the_schema_package_is_installed():
    assert (SCHEMAS / "v1.19" / "MicrosoftTeams.schema.json").exists(), "run npm ci (make install)"


def test_the_package_builds_and_validates(tmp_path):
    out = tmp_path / "app.zip"
    assert package(APP_ID, "1.2.3", out) == []
    with zipfile.ZipFile(out) as zf:
        assert sorted(zf.namelist()) == ["color.png", "manifest.json", "outline.png"]
        manifest = json.loads(zf.read("manifest.json"))
    assert manifest["id"] == APP_ID and manifest["bots"][0]["botId"] == APP_ID
    assert manifest["version"] == "1.2.3"
    assert set(manifest["bots"][0]["scopes"]) == {"personal", "team", "groupChat"}


def test_command_lists_are_the_routers_commands_staff_everywhere_privileged_only_in_personal_chat():
    [bot] = build_manifest(APP_ID, "0.1.0")["bots"]
    by_scope = {scope: [c["title"] for c in lst["commands"]] for lst in bot["commandLists"] for scope in lst["scopes"]}
    assert set(by_scope) == {"personal", "team", "groupChat"}  # every scope has exactly one list
    routes = router_commands()
    assert sorted(by_scope["personal"]) == sorted(r.verb for r in routes)
    for scope in ("team", "groupChat"):
        assert sorted(by_scope[scope]) == sorted(r.verb for r in routes if r.role is Role.STAFF)
    # what the router has today: staff commands everywhere, approver and administrator commands 1:1 only
    assert by_scope["personal"] == ["check", "report", "my reports", "help", "audit", "lift", "pending", "entry",
                                    "notified", "appeal"]
    assert by_scope["team"] == ["check", "report", "my reports", "help"]
    descriptions = {c["title"]: c["description"] for lst in bot["commandLists"] for c in lst["commands"]}
    assert descriptions["check"] == "Check an address, postcode or name"


def test_icons_are_the_sizes_teams_requires_and_the_outline_is_white_on_transparent():
    data = icons()
    assert png_info(data["color.png"])[:2] == (192, 192)
    width, height, colour = png_info(data["outline.png"])
    assert (width, height, colour) == (32, 32, 6)
    assert outline_problems(data["outline.png"]) == []
    pixels = rgba_pixels(data["outline.png"])
    assert len(pixels) == 32 * 32 and pixels[0][3] == 0  # the corner is transparent


def test_an_outline_icon_with_a_background_or_colour_is_refused():
    opaque = make_png(32, 32, lambda x, y: (255, 255, 255, 255))
    assert any("no transparent pixels" in p for p in outline_problems(opaque))
    red = make_png(32, 32, lambda x, y: (200, 0, 0, 255) if 8 < x < 24 else (0, 0, 0, 0))
    assert any("not white" in p for p in outline_problems(red))
    empty = make_png(32, 32, lambda x, y: (0, 0, 0, 0))
    assert any("fully transparent" in p for p in outline_problems(empty))
    good = make_png(32, 32, lambda x, y: (255, 255, 255, 255) if 8 < x < 24 else (255, 255, 255, 0))
    assert outline_problems(good) == []
    found = problems(build_manifest(APP_ID, "0.1.0"), {"color.png": icons()["color.png"], "outline.png": red})
    assert any("not white" in p for p in found)


def test_bad_packages_are_refused(tmp_path):
    assert any("not a GUID" in p for p in problems(build_manifest("not-a-guid", "0.1.0"), icons()))
    assert any("not semver" in p for p in problems(build_manifest(APP_ID, "1.0"), icons()))
    swapped = {"color.png": icons()["outline.png"], "outline.png": icons()["color.png"]}
    found = problems(build_manifest(APP_ID, "0.1.0"), swapped)
    assert any("color icon is 32x32" in p for p in found) and any("outline icon is 192x192" in p for p in found)
    broken = build_manifest(APP_ID, "0.1.0")
    broken["accentColor"] = "red"
    del broken["description"]
    assert any(p.startswith("schema:") for p in problems(broken, icons()))
    crowded = build_manifest(APP_ID, "0.1.0")
    crowded["bots"][0]["commandLists"][0]["commands"] *= 3
    assert any("Teams allows 10" in p for p in problems(crowded, icons()))
    assert package("nope", "0.1.0", tmp_path / "x.zip") and not (tmp_path / "x.zip").exists()


def run_make_package(tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    """`make package` as a council would run it (the Makefile target, not the function)."""
    full = {k: v for k, v in os.environ.items() if k not in ("MicrosoftAppId", "APP_VERSION")}
    full.update(env, PACKAGE_OUTPUT=str(tmp_path / "app.zip"))
    return subprocess.run(["make", "--no-print-directory", "-s", "package"], cwd=ROOT, env=full,
                          capture_output=True, text=True, timeout=300)


def test_make_package_fills_the_app_id_and_version_from_the_environment(tmp_path):
    result = run_make_package(tmp_path, MicrosoftAppId=APP_ID, APP_VERSION="2.4.6")
    assert result.returncode == 0, result.stderr
    with zipfile.ZipFile(tmp_path / "app.zip") as zf:
        manifest = json.loads(zf.read("manifest.json"))
    assert (manifest["id"], manifest["version"]) == (APP_ID, "2.4.6")

    (tmp_path / "app.zip").unlink()
    result = run_make_package(tmp_path, MicrosoftAppId=APP_ID)
    assert result.returncode == 0, result.stderr
    with zipfile.ZipFile(tmp_path / "app.zip") as zf:
        assert json.loads(zf.read("manifest.json"))["version"] == project_version() == "0.1.0"


def test_make_package_without_an_app_id_says_so_and_writes_nothing(tmp_path):
    result = run_make_package(tmp_path)
    assert result.returncode != 0
    assert "is not a GUID" in result.stderr
    assert not (tmp_path / "app.zip").exists()


def toolkit_validate(manifest: dict, folder: Path) -> subprocess.CompletedProcess:
    """`atk validate --manifest-file` (the Microsoft 365 Agents Toolkit CLI's schema check) behind the loopback
    guard. It tries to reach its telemetry and experimentation hosts even with --telemetry false: the guard
    refuses both, and the check itself needs no network. HOME is the test's folder (the CLI writes ~/.fx/logs)."""
    node = shutil.which("node")
    assert node, "node is not on PATH"
    assert TOOLKIT_CLI.exists(), "run npm ci (make install): @microsoft/m365agentstoolkit-cli is missing"
    (folder / "appPackage").mkdir(parents=True, exist_ok=True)
    (folder / "appPackage" / "manifest.json").write_text(json.dumps(manifest))
    for name, data in icons().items():
        (folder / "appPackage" / name).write_bytes(data)
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(folder), "TEAMSFX_TELEMETRY_TEST": "1",
           "NO_COLOR": "1"}
    return subprocess.run([node, "--require", str(GUARD), str(TOOLKIT_CLI), "validate", "--manifest-file",
                           "appPackage/manifest.json", "--telemetry", "false", "-i", "false"],
                          cwd=folder, env=env, capture_output=True, text=True, timeout=180)


def test_the_agents_toolkit_cli_validates_the_manifest_offline(tmp_path):
    result = toolkit_validate(build_manifest(APP_ID, project_version()), tmp_path / "good")
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "All passed" in output, output
    # nothing left this machine: every non-loopback connection it tried was refused by the guard
    assert "refused by playground-guard" not in result.stdout


def test_the_agents_toolkit_cli_refuses_a_broken_manifest(tmp_path):
    broken = build_manifest(APP_ID, project_version())
    broken["accentColor"] = "red"
    broken["bots"][0]["commandLists"][0]["commands"][0]["title"] = "x" * 40
    result = toolkit_validate(broken, tmp_path / "bad")
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "/accentColor" in output and "more than 32 characters" in output, output


def test_the_package_tool_has_a_help_that_names_its_defaults():
    result = subprocess.run([sys.executable, "-m", "tools.manifest", "--help"], cwd=ROOT, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0
    assert "MicrosoftAppId" in result.stdout and "APP_VERSION" in result.stdout
