"""Screenshot the sample cards at phone width: `python -m tests.cardcheck OUT_DIR [NAME ...]`.

Prints each card's size and any renderer error. For looking at the cards, not for committing the images.
"""

from __future__ import annotations

import sys
from pathlib import Path

from cards import card_size
from tests.cardcheck.checker import CardChecker
from tests.cardcheck.samples import sample_cards


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    out = Path(argv[0])
    out.mkdir(parents=True, exist_ok=True)
    cards = sample_cards()
    names = argv[1:] or sorted(cards)
    failed = False
    with CardChecker() as checker:
        for name in names:
            report = checker.screenshot(cards[name], out / f"{name}.png")
            size = card_size(cards[name])
            print(f"{name}: {size} bytes, {report.height:.0f} px high, errors: {report.errors}")
            failed = failed or bool(report.errors)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
