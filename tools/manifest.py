"""Build the Teams app package (manifest/ → build/register-app.zip) for the bot's Entra app id.

    python -m tools.manifest --app-id <GUID> [--version 0.1.0] [--output build/register-app.zip]

The app id defaults to MicrosoftAppId. The manifest is edited as JSON (never by text substitution) and the package
is checked before it is written: the id is a GUID, the version is semver, the icons are 192x192 colour and 32x32
outline PNGs (the outline transparent), and the manifest validates against its schema when the schema package is
installed (node_modules/@microsoft/app-manifest).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import struct
import sys
import uuid
import zipfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
MANIFEST_DIR = ROOT / "manifest"
SCHEMAS = ROOT / "node_modules" / "@microsoft" / "app-manifest" / "build" / "json-schemas" / "teams"
SEMVER = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$")


def png_info(data: bytes) -> tuple[int, int, int]:
    """(width, height, colour type) from a PNG's IHDR."""
    if data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        raise ValueError("not a PNG")
    width, height, _depth, colour = struct.unpack(">IIBB", data[16:26])
    return width, height, colour


def build_manifest(app_id: str, version: str) -> dict[str, Any]:
    manifest = json.loads((MANIFEST_DIR / "manifest.json").read_text())
    manifest["id"] = app_id
    manifest["version"] = version
    for bot in manifest["bots"]:
        bot["botId"] = app_id
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
        if kind == "outline" and colour != 6:
            found.append("outline icon must be RGBA with a transparent background")
    schema_path = SCHEMAS / f"v{manifest['manifestVersion']}" / "MicrosoftTeams.schema.json"
    if schema_path.exists():
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
    parser.add_argument("--app-id", default=os.environ.get("MicrosoftAppId", ""))
    parser.add_argument("--version", default="0.1.0")
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
