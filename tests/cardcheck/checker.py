"""Check cards in the official Adaptive Cards renderer (npm `adaptivecards`) inside headless Chromium.

The page (page.html) and the npm files are served from a virtual origin through Playwright routing, so the
browser never touches the network. Each card is parsed with a SerializationContext targeting 1.5, checked
with validateProperties(), and rendered with the Microsoft Teams host config and CSS from
`adaptivecards-designer` at a phone's width (360 px by default). Markdown in TextBlocks is rendered with
markdown-it-py when it is installed (the npm renderer ships no markdown engine), so injected links or
emphasis would show up in the rendered HTML.
"""

from __future__ import annotations

import json
import mimetypes
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
CHROMIUM = Path(os.environ.get("CARDCHECK_CHROMIUM", "/usr/bin/chromium"))
NODE_MODULES = Path(os.environ.get("CARDCHECK_NODE_MODULES", REPO / "node_modules"))
RENDERER_DIST = NODE_MODULES / "adaptivecards" / "dist"
DESIGNER = NODE_MODULES / "adaptivecards-designer"
TEAMS_HOST_CONFIG = DESIGNER / "lib" / "hostConfigs" / "microsoft-teams-light.json"
TEAMS_CSS_DIR = DESIGNER / "dist"

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
]
ORIGIN = "http://cardcheck.invalid"

INSTALL_HINT = (
    "The browser card checks need Chromium at {chromium} and the npm test tools in {node_modules} "
    "(adaptivecards, adaptivecards-designer). Install them with `make install` (or by hand: "
    "`apt-get install -y chromium`, and `npm ci` in the repository root). Do not run `playwright install`: "
    "the tests use the system Chromium."
)

# Validation events that say nothing about the card's correctness.
IGNORED_EVENTS = frozenset({"Hint"})


class ToolsMissing(RuntimeError):
    """Chromium, node_modules or Python Playwright is missing: the message says how to install them."""


def missing_tools() -> list[str]:
    """What is missing, one line each (empty when everything is there)."""
    missing = []
    if not CHROMIUM.exists():
        missing.append(f"Chromium: {CHROMIUM} not found")
    for path in (RENDERER_DIST / "adaptivecards.min.js", TEAMS_HOST_CONFIG,
                 TEAMS_CSS_DIR / "containers" / "teams-container-light.css"):
        if not path.exists():
            missing.append(f"npm files: {path} not found")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing.append("Python package playwright not installed (pip install playwright)")
    return missing


def require_tools() -> None:
    missing = missing_tools()
    if missing:
        hint = INSTALL_HINT.format(chromium=CHROMIUM, node_modules=NODE_MODULES)
        raise ToolsMissing("; ".join(missing) + ". " + hint)


@dataclass
class CardReport:
    """What the renderer made of one card."""

    errors: list[str]
    rendered: bool
    width: float
    height: float
    scroll_width: int
    client_width: int
    text: str
    html: str
    anchors: int
    clipped: list[str] = field(default_factory=list)
    buttons: list[str] = field(default_factory=list)

    @property
    def overflows(self) -> bool:
        """Wider than the phone, or with text cut off at its edge."""
        return self.scroll_width > self.client_width or bool(self.clipped)


def markdown_texts(card: Any) -> Iterator[str]:
    """Every string the renderer runs through markdown: TextBlock text and FactSet titles and values."""
    if isinstance(card, dict):
        if card.get("type") == "TextBlock" and isinstance(card.get("text"), str):
            yield card["text"]
        if card.get("type") == "FactSet":
            for fact in card.get("facts") or []:
                yield from (v for v in (fact.get("title"), fact.get("value")) if isinstance(v, str))
        for value in card.values():
            yield from markdown_texts(value)
    elif isinstance(card, list):
        for item in card:
            yield from markdown_texts(item)


def render_markdown(texts: Iterator[str]) -> dict[str, str]:
    """text -> HTML with markdown-it-py (CommonMark, raw HTML off, as Teams), or {} if it is not installed."""
    try:
        from markdown_it import MarkdownIt
    except ImportError:
        return {}
    md = MarkdownIt("commonmark", {"html": False}).enable("strikethrough")
    return {text: md.render(text) for text in set(texts)}


def markdown_available() -> bool:
    try:
        import markdown_it  # noqa: F401
    except ImportError:
        return False
    return True


class CardChecker:
    """One headless Chromium with the renderer page loaded; check as many cards as needed, then close().

    Usable as a context manager. Raises ToolsMissing (with install instructions) if a tool is missing."""

    def __init__(self, width: int = 360) -> None:
        require_tools()
        from playwright.sync_api import sync_playwright

        self.width = width
        self._pw = sync_playwright().start()
        try:
            self._browser = self._pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            self._page = self._browser.new_page(viewport={"width": width, "height": 800})
            self._page.route("**/*", self._serve)
            self._page.goto(f"{ORIGIN}/page.html")
            self._page.wait_for_function("window.cardcheck && window.cardcheck.ready")
            self._host_config = json.loads(TEAMS_HOST_CONFIG.read_text(encoding="utf-8"))
        except Exception:
            self.close()
            raise

    def __enter__(self) -> CardChecker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        browser = getattr(self, "_browser", None)
        if browser is not None:
            browser.close()
            self._browser = None
        if self._pw is not None:
            self._pw.stop()
            self._pw = None

    def check(self, card: dict[str, Any]) -> CardReport:
        """Parse, validate and render one card."""
        self._page.evaluate(
            "([config, md, width]) => window.cardcheck.configure(config, md, width)",
            [self._host_config, render_markdown(markdown_texts(card)), self.width],
        )
        raw = self._page.evaluate("(card) => window.cardcheck.check(card)", card)
        errors = [
            f"{e['phase']}/{e['event']} on {e['source']}: {e['message']}"
            for e in raw["events"]
            if e["event"] not in IGNORED_EVENTS
        ]
        return CardReport(
            errors=errors,
            rendered=raw["rendered"],
            width=raw["width"],
            height=raw["height"],
            scroll_width=raw["scrollWidth"],
            client_width=raw["clientWidth"],
            text=raw["text"],
            html=raw["html"],
            anchors=raw["anchors"],
            clipped=list(raw["clipped"]),
            buttons=list(raw["buttons"]),
        )

    def click_all(self, card: dict[str, Any]) -> list[dict[str, Any]]:
        """Render the card and click each of its buttons: what each click submitted, in order."""
        self.check(card)
        return list(self._page.evaluate("() => window.cardcheck.clickAll()"))

    def screenshot(self, card: dict[str, Any], path: str | os.PathLike[str]) -> CardReport:
        """Render the card and save a PNG of it at the checker's width."""
        report = self.check(card)
        self._page.locator("#host").screenshot(path=str(path))
        return report

    def _serve(self, route: Any) -> None:
        """page.html and the npm files, from disk; everything else is refused (no network, ever)."""
        url = route.request.url
        if not url.startswith(ORIGIN + "/"):
            route.abort()
            return
        path = url[len(ORIGIN):].split("?", 1)[0]
        roots = {
            "/page.html": HERE / "page.html",
            "/adaptivecards/": RENDERER_DIST,
            "/designer/": TEAMS_CSS_DIR,
        }
        for prefix, root in roots.items():
            if path == prefix or (prefix.endswith("/") and path.startswith(prefix)):
                target = root if path == prefix else (root / path[len(prefix):]).resolve()
                if target.is_file() and (target == root or root in target.parents):
                    content_type = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
                    route.fulfill(path=str(target), content_type=content_type)
                    return
        route.fulfill(status=404, body="not found")
