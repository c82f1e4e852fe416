"""Browser harness for cards: the official Adaptive Cards renderer in headless Chromium (see checker.py)."""

from tests.cardcheck.checker import (
    INSTALL_HINT,
    CardChecker,
    CardReport,
    ToolsMissing,
    markdown_available,
    missing_tools,
    require_tools,
)

__all__ = [
    "INSTALL_HINT",
    "CardChecker",
    "CardReport",
    "ToolsMissing",
    "markdown_available",
    "missing_tools",
    "require_tools",
]
