"""Real UK addresses for tests and benchmarks (shared/data/addresses, see its README).

The folder is found beside the repository (`<repo>/../shared/data/addresses`), or under
`$REGISTER_SHARED_DIR/data/addresses` when that is set (CI clones the repo elsewhere with `shared/` beside the clone).

Also: typed variants of an address the way staff write them, and near misses, for the matching tests and the benchmark.
"""

from __future__ import annotations

import csv
import os
import random
import re
from functools import cache
from pathlib import Path

from register.address import address_from_parts
from register.model import Address


def shared_dir() -> Path:
    override = os.environ.get("REGISTER_SHARED_DIR")
    if override:
        return Path(override)
    return Path(__file__).resolve().parents[2] / "shared"


def addresses_dir() -> Path:
    return shared_dir() / "data" / "addresses"


def _read_csv(name: str, delimiter: str = ",") -> list[dict[str, str]]:
    path = addresses_dir() / name
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: set REGISTER_SHARED_DIR to the shared folder")
    with path.open(newline="", encoding="utf-8") as f:
        return [dict(r) for r in csv.DictReader(f, delimiter=delimiter)]


@cache
def price_paid() -> tuple[dict[str, str], ...]:
    """price-paid-1995-sample.csv: postcode, paon, saon, street, locality, town_city, district, county ..."""
    return tuple(_read_csv("price-paid-1995-sample.csv"))


@cache
def labelled() -> tuple[dict[str, str], ...]:
    """land-registry-uprn-labelled-230.csv: address (as sold), MATCHED_ABP_E32_ADDRESS (AddressBase form), MKEY
    (the difficulty category, in the last, unnamed column)."""
    rows = _read_csv("land-registry-uprn-labelled-230.csv")
    for r in rows:
        r["category"] = (r.get("") or "").strip()
    return tuple(rows)


@cache
def flattened() -> tuple[dict[str, str], ...]:
    """price-paid-flattened-2000.tsv: text (one line, comma separated), postcode."""
    return tuple(_read_csv("price-paid-flattened-2000.tsv", delimiter="\t"))


def pp_address(row: dict[str, str]) -> Address:
    return address_from_parts(
        paon=row["paon"],
        saon=row["saon"],
        street=row["street"],
        locality=row["locality"],
        town=row["town_city"],
        postcode=row["postcode"],
    )


def distinct_properties() -> list[dict[str, str]]:
    """Price Paid rows, one per property (the sample has a few resales), in file order."""
    seen: set[tuple[str, ...]] = set()
    out = []
    for r in price_paid():
        key = (r["saon"], r["paon"], r["street"], r["locality"], r["town_city"], r["postcode"])
        if key in seen:
            continue
        seen.add(key)
        out.append(r)
    return out


def abp_text(abp: str) -> str:
    """AddressBase writes a number range as '41 43 JAMAICA STREET'; make it '41-43' so it reads as one range."""

    def fix(m: re.Match[str]) -> str:
        if m.group(1):
            return m.group(0)  # 'FLAT 4 128 HIGH STREET': flat 4 at 128
        a, b = int(m.group(2)), int(m.group(3))
        return f"{a}-{b}" if b >= a else m.group(0)

    return re.sub(r"(\b(?:FLAT|APARTMENT|ROOM|UNIT) )?\b(\d+) (\d+)\b(?= [A-Z])", fix, abp)


# ---------------------------------------------------------------------------------------------------------------------
# how staff type

ABBREVIATE = {
    "ROAD": "Rd",
    "STREET": "St",
    "AVENUE": "Ave",
    "LANE": "Ln",
    "DRIVE": "Dr",
    "CLOSE": "Cl",
    "CRESCENT": "Cres",
    "GARDENS": "Gdns",
    "PLACE": "Pl",
    "COURT": "Ct",
    "TERRACE": "Terr",
    "SQUARE": "Sq",
    "GROVE": "Gr",
    "PARK": "Pk",
    "SAINT": "St",
    "HOUSE": "Hse",
    "MOUNT": "Mt",
    "PARADE": "Pde",
}


def abbreviate(text: str) -> str:
    return " ".join(ABBREVIATE.get(w, w) for w in text.split())


def typo(word: str, rng: random.Random) -> str:
    """One slip of the finger: a letter swapped with its neighbour, dropped, doubled or replaced."""
    i = rng.randrange(len(word) - 1)
    op = rng.choice(("swap", "drop", "double", "replace"))
    if op == "swap":
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    if op == "drop":
        return word[:i] + word[i + 1 :]
    if op == "double":
        return word[:i] + word[i] + word[i:]
    c = rng.choice([x for x in "ABCDEFGHIJKLMNOPRSTUVWY" if x != word[i]])
    return word[:i] + c + word[i + 1 :]


def typed_variants(a: Address, rng: random.Random) -> list[tuple[str, str]]:
    """(label, query) pairs a member of staff could type for the property `a` (normalised parts)."""
    out: list[tuple[str, str]] = []
    first = " ".join(p for p in (a.paon, a.street) if p)
    flat = f"{a.saon}, " if a.saon else ""
    town = a.town or a.locality
    pc = a.postcode
    out.append(("display", a.display()))
    out.append(("lower", f"{flat}{first}, {town}".lower()))
    out.append(("abbreviated", abbreviate(f"{flat}{first} {town}")))
    if pc:
        out.append(("no town", f"{flat}{first}, {pc}"))
        out.append(("postcode no space", f"{flat}{first} {pc.replace(' ', '').lower()}"))
        num = a.paon.rsplit(",", 1)[-1].strip()
        if num and num[0].isdigit() and not a.saon:
            out.append(("number and postcode", f"{num} {pc.lower()}"))
    out.append(("no postcode", f"{flat}{first} {town}"))
    out.append(("no town no postcode", f"{flat}{first}".lower()))
    words = [w for w in a.street.split() if len(w) >= 4]
    if words:
        w = rng.choice(words)
        typo_street = " ".join(typo(x, rng) if x == w else x for x in a.street.split())
        typo_first = " ".join(p for p in (a.paon, typo_street) if p)
        out.append(("typo in street", f"{flat}{typo_first} {town}".lower()))
        out.append(("typo and abbreviated", abbreviate(f"{flat}{typo_first} {town}").lower()))
    if a.saon:
        m = re.fullmatch(r"(?:FLAT|APARTMENT) (\w+)", a.saon)
        saon_n = m.group(1) if m else (a.saon if re.fullmatch(r"\d+[A-Z]?|[A-Z]", a.saon) else "")
        if saon_n:
            out.append(("flat lower no comma", f"flat {saon_n} {first} {town}".lower()))
            out.append(("apartment abbreviated", f"Apt {saon_n}, {abbreviate(first)}, {town}"))
            out.append(("flat after number", f"{a.paon}, Flat {saon_n}, {a.street}, {town}"))
            if re.fullmatch(r"\d+", a.paon):
                out.append(("slash form", f"{saon_n}/{a.paon} {abbreviate(a.street)} {town}"))
                out.append(("bare flat number", f"{saon_n}, {first}, {town}"))
        if a.saon == "GROUND FLOOR FLAT":
            out.append(("GFF", f"GFF {first} {town}"))
    if "," in a.paon:
        name = a.paon.rsplit(",", 1)[0]
        out.append(("building name without number", f"{flat}{name}, {a.street}, {town}"))
    return out


def phone_variants(a: Address, rng: random.Random) -> list[tuple[str, str]]:
    """(label, query) pairs typed on a phone: no commas, words run together, a doubled letter, the flat written
    `Flat 2` / `2/12` / `12/2` / `2-12` / `Apt 2`."""
    out: list[tuple[str, str]] = []
    town = a.town or a.locality
    flat = f"{a.saon} " if a.saon else ""
    first = " ".join(p for p in (a.paon.replace(",", ""), a.street) if p)
    out.append(("no commas", f"{flat}{first} {town} {a.postcode}".lower().strip()))
    words = a.street.split()
    if len(words) >= 2:
        out.append(("run together", f"{flat}{a.paon} {''.join(words[:2])} {' '.join(words[2:])} {town}".lower()))
    long_words = [w for w in words if len(w) >= 4]
    if long_words:
        w = rng.choice(long_words)
        i = rng.randrange(len(w))
        doubled = " ".join(x[: i + 1] + x[i] + x[i + 1 :] if x == w else x for x in words)
        out.append(("doubled letter", f"{flat}{a.paon} {doubled} {town}".lower()))
    m = re.fullmatch(r"(?:FLAT|APARTMENT) (\d+)", a.saon)
    if m and re.fullmatch(r"\d+", a.paon):
        n, house = m.group(1), a.paon
        out.append(("Flat n", f"Flat {n} {house} {a.street} {town}"))
        out.append(("n/house", f"{n}/{house} {a.street} {town}"))
        out.append(("house/n", f"{house}/{n} {a.street} {town}"))
        out.append(("n-house", f"{n}-{house} {a.street} {town}"))
        out.append(("Apt n", f"Apt {n} {house} {a.street}"))
    return out
