"""Build the Teams app package (manifest/ → build/register-app.zip) for the bot's Entra app id.

    python -m tools.manifest [--app-id <GUID>] [--version 1.2.3] [--output build/register-app.zip]

The app id defaults to MicrosoftAppId (the bot's Entra app id, or the client id of its user-assigned managed
identity); the version to APP_VERSION, else the project's version in pyproject.toml. The manifest is edited as JSON
(never by text substitution) and the package is checked before it is written: the id is a GUID, the version is
semver, the icons are 192x192 colour and 32x32 outline PNGs (the outline white on a transparent background,
checked pixel by pixel), and the manifest validates against its schema (node_modules/@microsoft/app-manifest).

The bot's command lists are not written by hand: they come from the router (bot/handlers.py), so a command added
there (`report`, `my reports`, approvals) appears in the package without touching manifest/. Staff commands are
offered in every scope; approver and administrator commands in the personal chat only (a suggestion list is not a
permission: the router checks every role).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import struct
import sys
import tomllib
import uuid
import zipfile
import zlib
from pathlib import Path
from typing import Any, cast

ROOT = Path(__file__).resolve().parents[1]
MANIFEST_DIR = ROOT / "manifest"
SCHEMAS = ROOT / "node_modules" / "@microsoft" / "app-manifest" / "build" / "json-schemas" / "teams"
SEMVER = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$")
ALL_SCOPES = ["personal", "team", "groupChat"]
MAX_COMMANDS = 10  # per command list (Teams app manifest)


def project_version() -> str:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]


# -- icons -------------------------------------------------------------------------------------------

def png_info(data: bytes) -> tuple[int, int, int]:
    """(width, height, colour type) from a PNG's IHDR."""
    if data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        raise ValueError("not a PNG")
    width, height, _depth, colour = struct.unpack(">IIBB", data[16:26])
    return width, height, colour


def rgba_pixels(data: bytes) -> list[tuple[int, int, int, int]]:
    """The pixels of an 8-bit RGBA, non-interlaced PNG (what Teams icons are), row by row. Enough of PNG to check
    an icon's transparency without an imaging library; anything else raises ValueError."""
    width, height, colour = png_info(data)
    depth, interlace = data[24], data[28]
    if colour != 6 or depth != 8 or interlace != 0:
        raise ValueError("not an 8-bit RGBA non-interlaced PNG")
    pos, idat = 8, bytearray()
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        if data[pos + 4:pos + 8] == b"IDAT":
            idat += data[pos + 8:pos + 8 + length]
        pos += 12 + length
    raw = zlib.decompress(bytes(idat))
    stride = width * 4
    previous = bytearray(stride)
    pixels: list[tuple[int, int, int, int]] = []
    for y in range(height):
        kind = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for x in range(stride):
            left = line[x - 4] if x >= 4 else 0
            up = previous[x]
            corner = previous[x - 4] if x >= 4 else 0
            if kind == 1:
                line[x] = (line[x] + left) & 0xFF
            elif kind == 2:
                line[x] = (line[x] + up) & 0xFF
            elif kind == 3:
                line[x] = (line[x] + (left + up) // 2) & 0xFF
            elif kind == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                line[x] = (line[x] + (left if pa <= pb and pa <= pc else up if pb <= pc else corner)) & 0xFF
            elif kind != 0:
                raise ValueError(f"unknown PNG filter {kind}")
        pixels += [tuple(line[i:i + 4]) for i in range(0, stride, 4)]  # type: ignore[misc]
        previous = line
    return pixels


def outline_problems(data: bytes) -> list[str]:
    """Teams: the outline icon is white on a transparent background."""
    try:
        pixels = rgba_pixels(data)
    except (ValueError, zlib.error) as exc:
        return [f"outline icon: {exc}"]
    found = []
    if not any(a == 0 for *_, a in pixels):
        found.append("outline icon has no transparent pixels (its background must be transparent)")
    if any(a and (r, g, b) != (255, 255, 255) for r, g, b, a in pixels):
        found.append("outline icon has pixels that are not white (it must be white on transparent)")
    if not any(a for *_, a in pixels):
        found.append("outline icon is fully transparent")
    return found


# -- commands from the router ------------------------------------------------------------------------

def command_lists() -> list[dict[str, Any]]:
    """The bot's command lists, from the router's commands and the role each declares."""
    from bot.handlers import build_router  # noqa: PLC0415 - keeps `--help` fast
    from register.permissions import Role  # noqa: PLC0415
    from register.service import Register  # noqa: PLC0415
    from register.store import Store  # noqa: PLC0415

    # Building the router only registers routes; the store is never touched, so none is opened.
    routes = build_router(Register(cast(Store, None))).commands

    def listed(route: Any) -> dict[str, str]:
        summary = route.summary or route.verb
        return {"title": route.verb, "description": summary[0].upper() + summary[1:]}

    staff = [listed(r) for r in routes if r.role is Role.STAFF]
    privileged = [listed(r) for r in routes if r.role is not Role.STAFF]
    return [
        {"scopes": ["personal"], "commands": staff + privileged},
        {"scopes": ["team", "groupChat"], "commands": staff},
    ]


# -- the package -------------------------------------------------------------------------------------

def build_manifest(app_id: str, version: str) -> dict[str, Any]:
    manifest = json.loads((MANIFEST_DIR / "manifest.json").read_text())
    manifest["id"] = app_id
    manifest["version"] = version
    for bot in manifest["bots"]:
        bot["botId"] = app_id
        bot["commandLists"] = command_lists()
    return manifest


def problems(manifest: dict[str, Any], icons: dict[str, bytes]) -> list[str]:
    found: list[str] = []
    try:
        uuid.UUID(manifest["id"])
    except (ValueError, KeyError, TypeError):
        found.append(f"id {manifest.get('id')!r} is not a GUID (the bot's Entra app id)")
    if not SEMVER.match(str(manifest.get("version", ""))):
        found.append(f"version {manifest.get('version')!r} is not semver (MAJOR.MINOR.PATCH)")
    for kind, size in (("color", 192), ("outline", 32)):
        name = manifest["icons"][kind]
        try:
            width, height, colour = png_info(icons[name])
        except (KeyError, ValueError):
            found.append(f"{kind} icon {name} is missing or not a PNG")
            continue
        if (width, height) != (size, size):
            found.append(f"{kind} icon is {width}x{height}, must be {size}x{size}")
        if kind == "outline":
            found += outline_problems(icons[name]) if colour == 6 else [
                "outline icon must be RGBA with a transparent background"]
    for bot in manifest.get("bots", []):
        for commands in bot.get("commandLists", []):
            if len(commands["commands"]) > MAX_COMMANDS:
                found.append(f"command list for {commands['scopes']} has {len(commands['commands'])} commands; "
                             f"Teams allows {MAX_COMMANDS}")
    schema_path = SCHEMAS / f"v{manifest['manifestVersion']}" / "MicrosoftTeams.schema.json"
    if not schema_path.exists():
        found.append(f"the manifest schema {schema_path} is missing: run `make install` (npm ci)")
    else:
        import jsonschema  # noqa: PLC0415 - a test/dev dependency

        validator = jsonschema.Draft4Validator(json.loads(schema_path.read_text()))
        found += [f"schema: {'/'.join(map(str, e.path))}: {e.message}" for e in validator.iter_errors(manifest)]
    return found


def package(app_id: str, version: str, output: Path) -> list[str]:
    manifest = build_manifest(app_id, version)
    icons = {name: (MANIFEST_DIR / name).read_bytes() for name in manifest["icons"].values()}
    errors = problems(manifest, icons)
    if errors:
        return errors
    output.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(output, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("manifest.json", json.dumps(manifest, indent=2))
        for name, data in icons.items():
            zf.writestr(name, data)
    return []


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.manifest", description=__doc__.split("\n\n")[0])
    parser.add_argument("--app-id", default=os.environ.get("MicrosoftAppId", ""),
                        help="the bot's Entra app id (default: MicrosoftAppId)")
    parser.add_argument("--version", default=os.environ.get("APP_VERSION") or project_version(),
                        help="the app's version (default: APP_VERSION, else pyproject.toml's)")
    parser.add_argument("--output", type=Path, default=ROOT / "build" / "register-app.zip")
    args = parser.parse_args(argv)
    errors = package(args.app_id, args.version, args.output)
    for error in errors:
        print(f"manifest: {error}", file=sys.stderr)
    if not errors:
        print(f"wrote {args.output}")
    return 1 if errors else 0


if __name__ == "__main__":
    raise SystemExit(main())
