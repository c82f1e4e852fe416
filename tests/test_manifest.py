"""The Teams app package: valid against the official manifest schema, with icons Teams accepts."""

from __future__ import annotations

import json
import zipfile

from tools.manifest import SCHEMAS, build_manifest, package, png_info, problems

APP_ID = "2b7c5e1a-4f1d-4a8e-9c55-1d0c7a3e9b21"


def icons():
    from tools.manifest import MANIFEST_DIR

    return {n: (MANIFEST_DIR / n).read_bytes() for n in ("color.png", "outline.png")}


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
    assert [c["title"] for c in manifest["bots"][0]["commandLists"][0]["commands"]] == ["check", "help"]


def test_icons_are_the_sizes_teams_requires():
    data = icons()
    assert png_info(data["color.png"])[:2] == (192, 192)
    width, height, colour = png_info(data["outline.png"])
    assert (width, height, colour) == (32, 32, 6)


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
    assert package("nope", "0.1.0", tmp_path / "x.zip") and not (tmp_path / "x.zip").exists()
