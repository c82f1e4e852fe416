"""End to end through the Microsoft 365 Agents Playground, a local Teams-like client, driven in headless Chromium.

The real bot (`python -m bot.app`, demo register in a fresh SQLite file) and the real Playground (under
tools/playground-guard.cjs) run on free loopback ports, started by tools.run.start() exactly as `make run`
starts them. Playwright types into the Playground like a member of staff would:

- personal chat: `check 12 High St` gives the alert card (MCR-2026-0001); `check 99 Nowhere Road` the
  "no alert" card; `check 40 Market Street` the building notice, whose Check button (Action.Submit) gives the
  flat's alert (MCR-2026-0002); `help` the help card;
- a team channel and the group chat: `@Register check 12 high street` (typed as `@Reg` + pick the mention) gets
  only "I've sent you the result privately" there, with no card, reference or address, and the alert card
  arrives in the personal chat (the bot opens the 1:1 with `POST /v3/conversations`).

Also `python -m tools.run` itself (what `make run` runs): it prints the URL, listens on 127.0.0.1 only, and
Ctrl-C stops both servers; a busy port is reported by number with the variable that changes it.

Nothing leaves the machine: Chromium resolves no name but 127.0.0.1 (--host-resolver-rules) and every request
to another host is aborted by a route (the Playground's web fonts come from a CDN and fall back locally); the
Playground's own outbound attempts are refused by the guard, and the test checks that it listens on 127.0.0.1
only. Missing node_modules or Chromium make the test FAIL: `make install` provides both.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tools.run import BOT_NAME, PLAYGROUND_PACKAGE, ROOT, LocalStack, StartError, free_port, start

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
]
WAIT_MS = 15_000

ALERT_REF = "MCR-2026-0001"  # register/demo.py: 12 High Street, Chorley PR7 1AA, an active alert
PRIVATE_REPLY = re.compile(r"sent you the result privately", re.I)
PERSONAL_CHAT = "Personal Chat"


def _require_tools() -> None:
    problems = []
    if not shutil.which("node"):
        problems.append("node is not on PATH")
    if not (PLAYGROUND_PACKAGE / "package.json").is_file():
        problems.append(f"{PLAYGROUND_PACKAGE} is missing (npm ci)")
    if not Path(CHROMIUM).is_file():
        problems.append(f"{CHROMIUM} is missing (apt-get install chromium)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        problems.append("python playwright is not installed (pip install -e '.[test]')")
    if problems:
        pytest.fail("the Playground end-to-end test needs: " + "; ".join(problems) + ". Run `make install`.",
                    pytrace=False)


def _listening_addresses(port: int) -> set[str]:
    """Local addresses of the LISTEN sockets on `port`, from /proc/net/tcp{,6} (no tools, no traffic)."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError), open(table) as f:
            for row in f.read().splitlines()[1:]:
                fields = row.split()
                address, hex_port = fields[1].rsplit(":", 1)
                if int(hex_port, 16) != port or fields[3] != "0A":  # 0A: LISTEN
                    continue
                if len(address) == 8:  # IPv4, little-endian
                    found.add(".".join(str(int(address[i:i + 2], 16)) for i in (6, 4, 2, 0)))
                else:
                    found.add("ipv6:" + address)
    return found


# -- fixtures ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("e2e-playground")


@pytest.fixture(scope="module")
def stack(workdir) -> Iterator[LocalStack]:
    _require_tools()
    log = (workdir / "stack.log").open("w", encoding="utf-8")

    def sink(name: str, line: str) -> None:
        log.write(f"{name:>10} | {line}\n")
        log.flush()

    try:
        running = start(db=workdir / "register.db", workdir=workdir / "playground", sink=sink, timeout=30)
    except StartError as exc:
        log.close()
        pytest.fail(f"the bot and the Playground did not start: {exc}", pytrace=False)
    try:
        yield running
    finally:
        running.stop()
        log.close()
        leftovers = [c.name for c in running.children if c.popen.poll() is None]
        assert not leftovers, f"still running after stop(): {leftovers}"


@pytest.fixture(scope="module")
def browser_page(stack, workdir):
    from playwright.sync_api import sync_playwright

    blocked: list[str] = []

    def only_loopback(route) -> None:
        if urlsplit(route.request.url).hostname == "127.0.0.1":
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort("blockedbyclient")

    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            user_data_dir=str(workdir / "chromium-profile"), executable_path=CHROMIUM, headless=True,
            args=CHROMIUM_ARGS, viewport={"width": 1400, "height": 1000}, locale="en-GB",
        )
        try:
            context.route("**/*", only_loopback)
            page = context.pages[0] if context.pages else context.new_page()
            page.set_default_timeout(WAIT_MS)
            page.goto(stack.playground_url)
            page.get_by_role("treeitem", name=PERSONAL_CHAT).wait_for()
            # Hide the log panel: it repeats message texts, and the checks below read what the page shows.
            if page.get_by_text("Log Panel", exact=True).is_visible():
                page.get_by_title("Toggle Log Panel").click()
                page.get_by_text("Log Panel", exact=True).wait_for(state="hidden")
            yield page
        finally:
            context.close()
            # for the record: what Chromium was stopped from fetching (its web fonts come from a CDN)
            (workdir / "blocked-requests.txt").write_text("\n".join(blocked))


@contextlib.contextmanager
def evidence(page, stack: LocalStack, workdir: Path, name: str) -> Iterator[None]:
    """On failure: a screenshot and the last lines of both processes' output in the message."""
    try:
        yield
    except Exception as exc:
        shot = workdir / f"{name}.png"
        with contextlib.suppress(Exception):
            page.screenshot(path=str(shot), full_page=True)
        raise AssertionError(f"{exc}\n\nscreenshot: {shot}\nfull log: {workdir / 'stack.log'}\n"
                             f"{stack.logs()[-6000:]}") from exc


# -- driving the Playground ----------------------------------------------------------------------------------


SCREENSHOTS = ROOT / "docs" / "screenshots" / "playground"


def shoot(page, workdir: Path, name: str, card=None) -> Path:
    """A screenshot of what the Playground shows (the card, or the whole page): into docs/screenshots/playground/
    for the README with REPORT_SCREENSHOTS=1, into the test's folder otherwise."""
    folder = SCREENSHOTS if os.environ.get("REPORT_SCREENSHOTS") == "1" else workdir
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    (card if card is not None else page).screenshot(path=str(path))
    assert path.stat().st_size > 2000
    return path


def open_chat(page, name: str) -> None:
    page.get_by_role("treeitem", name=name).click()
    page.locator("[contenteditable=true]").first.wait_for()


def cards(page):
    return page.locator(".ac-adaptiveCard")


def in_conversation(page, locator):
    """`locator` restricted to the open conversation (not the chat list, which shows previews)."""
    return locator.and_(page.locator(":not([role=region] *)"))


def type_and_send(page, text: str, mention: str | None = None) -> None:
    """Type into the (first) compose box and press Enter. With `mention`, first type `@` and its first letters and
    pick the suggestion (role=menuitem), as a user does; that inserts a real mention entity."""
    box = page.locator("[contenteditable=true]").first
    box.click()
    if mention:
        page.keyboard.type("@" + mention[:3])
        page.get_by_role("menuitem", name=mention).click()
        page.keyboard.type(" ")
    page.keyboard.type(text)
    page.keyboard.press("Enter")


def ask_in_personal_chat(page, text: str):
    """Send `text` in the personal chat; return the bot's new card."""
    from playwright.sync_api import expect

    open_chat(page, PERSONAL_CHAT)
    before = cards(page).count()
    type_and_send(page, text)
    expect(cards(page)).to_have_count(before + 1)
    return cards(page).nth(before)


def ask_privately_elsewhere(page, chat: str, query: str) -> None:
    """@mention the bot with `check <query>` in a group chat or channel; assert the answer there reveals nothing
    and the card arrives in the personal chat."""
    from playwright.sync_api import expect

    open_chat(page, PERSONAL_CHAT)
    personal_before = cards(page).count()

    open_chat(page, chat)
    replies = in_conversation(page, page.get_by_text(PRIVATE_REPLY))
    replies_before = replies.count()
    assert cards(page).count() == 0, f"{chat} shows a card before the test"
    type_and_send(page, f"check {query}", mention=BOT_NAME)
    expect(in_conversation(page, page.get_by_text(f"check {query}"))).to_have_count(1)
    expect(replies).to_have_count(replies_before + 1)
    page.wait_for_timeout(500)  # anything else the bot might (wrongly) post there arrives with the reply
    assert cards(page).count() == 0, f"a card was posted in {chat}"
    shown = page.locator("body").inner_text()  # the chat list, the conversation, the toolbar
    for secret in (ALERT_REF, "MCR-", "PR7 1AA", "Chorley", "restrictions on contact", "Do not visit"):
        assert secret.lower() not in shown.lower(), f"{secret!r} is shown while {chat} is open:\n{shown}"

    open_chat(page, PERSONAL_CHAT)
    expect(cards(page)).to_have_count(personal_before + 1)
    card = cards(page).nth(personal_before).inner_text()
    assert ALERT_REF in card and "12 High Street" in card, card
    assert query in card, f"the private card does not say what was checked: {card!r}"


# -- the tests -----------------------------------------------------------------------------------------------


def test_playground_listens_on_loopback_only(stack):
    port = urlsplit(stack.playground_url).port
    assert _listening_addresses(port) == {"127.0.0.1"}
    assert _listening_addresses(urlsplit(stack.bot_url).port) == {"127.0.0.1"}


def test_check_an_alert_address_in_the_personal_chat(browser_page, stack, workdir):
    page = browser_page
    with evidence(page, stack, workdir, "alert"):
        shown = ask_in_personal_chat(page, "check 12 High St")
        shoot(page, workdir, "check-alert", shown)
        card = shown.inner_text()
        assert ALERT_REF in card, card
        assert re.search(r"\balert\b", card, re.I), card
        assert "12 High Street" in card and "PR7 1AA" in card, card
        assert "Do not visit alone" in card, card


def test_check_an_address_with_no_alert(browser_page, stack, workdir):
    page = browser_page
    with evidence(page, stack, workdir, "no-alert"):
        card = ask_in_personal_chat(page, "check 99 Nowhere Road").inner_text()
        assert re.search(r"no alert", card, re.I), card
        assert "99 Nowhere Road" in card, card
        assert "MCR-" not in card, card


def test_a_card_button_checks_the_flat(browser_page, stack, workdir):
    """The building notice offers a Check button per flat (Action.Submit); clicking it gives that flat's alert."""
    from playwright.sync_api import expect

    page = browser_page
    with evidence(page, stack, workdir, "card-button"):
        notice = ask_in_personal_chat(page, "check 40 Market Street")
        assert "another flat" in notice.inner_text(), notice.inner_text()
        before = cards(page).count()
        notice.get_by_role("button", name=re.compile(r"^check", re.I)).first.click()
        expect(cards(page)).to_have_count(before + 1)
        card = cards(page).nth(before).inner_text()
        assert "MCR-2026-0002" in card and "Flat 2, 40 Market Street" in card, card


def test_help(browser_page, stack, workdir):
    page = browser_page
    with evidence(page, stack, workdir, "help"):
        card = ask_in_personal_chat(page, "help").inner_text()
        assert "check 12 High St" in card and re.search(r"\bhelp\b", card), card
        assert "MCR-" not in card, card


def test_mention_in_a_channel_answers_privately(browser_page, stack, workdir):
    page = browser_page
    channels = page.get_by_role("treeitem").filter(has_text="General")
    assert channels.count() >= 1, "the Playground shows no team channel"
    name = channels.first.get_attribute("aria-label")
    with evidence(page, stack, workdir, "channel"):
        ask_privately_elsewhere(page, name, "12 high street")


def test_mention_in_a_group_chat_answers_privately(browser_page, stack, workdir):
    page = browser_page
    from tools.run import PLAYGROUND_CONFIG

    group = re.search(r"groupChat:\n  id: .*\n  name: (.*)\n", PLAYGROUND_CONFIG).group(1)
    with evidence(page, stack, workdir, "group-chat"):
        ask_privately_elsewhere(page, group, "12 High St")


# -- `make run` itself ------------------------------------------------------------------------------------------


def test_a_busy_port_is_reported_clearly(workdir):
    _require_tools()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(StartError, match=rf"Port {port} on 127\.0\.0\.1 is already in use.*REGISTER_PORT"):
            start(bot_port=port, db=workdir / "busy.db", workdir=workdir / "busy")
        with pytest.raises(StartError, match=rf"Port {port} .*Agents Playground.*PLAYGROUND_PORT"):
            start(playground_port=port, db=workdir / "busy.db", workdir=workdir / "busy")


def test_make_run_prints_the_url_and_stops_both_on_ctrl_c(workdir):
    _require_tools()
    bot_port, playground_port = free_port(), free_port()
    env = {**os.environ, "REGISTER_PORT": str(bot_port), "PLAYGROUND_PORT": str(playground_port),
           "REGISTER_DB": str(workdir / "make-run.db"), "PLAYGROUND_DIR": str(workdir / "make-run")}
    proc = subprocess.Popen([sys.executable, "-m", "tools.run"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    lines: list[str] = []
    try:
        wanted = f"Open http://127.0.0.1:{playground_port} in your browser"
        deadline = time.monotonic() + 30
        assert proc.stdout is not None
        while time.monotonic() < deadline and not any(wanted in line for line in lines):
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
        assert any(wanted in line for line in lines), "".join(lines)
        assert _listening_addresses(bot_port) == {"127.0.0.1"}
        assert _listening_addresses(playground_port) == {"127.0.0.1"}
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C does to the terminal's foreground process group
        rest, _ = proc.communicate(timeout=20)
        assert proc.returncode == 0, "".join(lines) + rest
        assert "stopped." in rest
        assert _listening_addresses(bot_port) == set() and _listening_addresses(playground_port) == set()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def choose(page, card, label: str, option: str) -> None:
    """A compact choice set is a combo box in the Playground (Fluent UI): open it, pick the option, close it."""
    card.get_by_role("combobox", name=label).click()
    page.get_by_text(option, exact=True).last.click()  # the open list is the newest element with that text
    page.keyboard.press("Escape")


def test_report_an_incident_through_its_cards_then_a_check_there_is_pending(browser_page, stack, workdir):
    """The whole report flow in the personal chat: each Next replaces the card in place (Action.Execute), the
    review's Submit gives the reference, and a check at that property then says a report awaits a decision."""
    from playwright.sync_api import expect

    page = browser_page
    with evidence(page, stack, workdir, "report"):
        card = ask_in_personal_chat(page, "report 7 Mill Lane, Chorley, PR7 3QQ")
        expect(card).to_contain_text("Step 1 of 3")
        shoot(page, workdir, "report-step-1", card)
        choose(page, card, "Service area", "Housing")
        choose(page, card, "How it happened", "At a property")
        card.get_by_role("button", name="Next").click()
        expect(card).to_contain_text("Step 2 of 3")
        expect(card).to_contain_text("Address recorded as")
        choose(page, card, "Behaviour", "Verbal abuse")
        narrative = card.get_by_role("textbox", name=re.compile(r"^What happened"))
        narrative.fill("Swore at me on the doorstep and slammed the door.")
        card.get_by_role("button", name="Next").click()
        expect(card).to_contain_text("Step 3 of 3")
        choose(page, card, "Your recommendation", "Informal warning")
        choose(page, card, "Who should decide", "Megan Bowen")
        card.get_by_role("button", name="Next").click()
        expect(card).to_contain_text("Check your answers")
        expect(card).to_contain_text("Swore at me on the doorstep")
        shoot(page, workdir, "report-review", card)
        card.get_by_role("button", name="Submit report").click()
        expect(card).to_contain_text("Report submitted")
        expect(card).to_contain_text("Megan Bowen")
        submitted = card.inner_text()
        assert re.search(r"INC-\d{4}-\d{6}", submitted), submitted

        pending = ask_in_personal_chat(page, "check 7 Mill Lane PR7 3QQ").inner_text()
        assert re.search(r"speak to a manager", pending, re.I), pending
        assert "Swore at me" not in pending, pending


def test_an_administrator_decides_a_pending_report_from_its_approval_card_and_the_check_alerts(
        browser_page, stack, workdir):
    """The demo's pending report (3 Brook Street, reported by someone else): `pending` lists it, Open replaces
    the list by its approval card (Action.Execute), Approve with a restriction, and a check there alerts."""
    from playwright.sync_api import expect

    page = browser_page
    with evidence(page, stack, workdir, "approval"):
        before = ask_in_personal_chat(page, "check 3 Brook Street PR7 3BN").inner_text()
        assert re.search(r"speak to a manager", before, re.I), before
        card = ask_in_personal_chat(page, "pending")
        expect(card).to_contain_text("INC-2026-0101")
        card.locator(".ac-container", has_text="INC-2026-0101").get_by_role("button", name="Open").last.click()
        expect(card).to_contain_text("Decision needed")
        shoot(page, workdir, "approval-card", card)
        choose(page, card, "Decision", "Restriction")
        choose(page, card, "Restrictions", "No lone visits")
        card.get_by_role("textbox", name=re.compile(r"^Staff guidance")).fill("Do not visit alone. Phone first.")
        card.get_by_role("textbox", name=re.compile(r"^Reason \(for the letter")).fill("Threats made to an officer.")
        card.get_by_role("button", name="Approve").click()
        expect(card).to_contain_text("Decided: Restriction")
        after = ask_in_personal_chat(page, "check 3 Brook Street PR7 3BN").inner_text()
        assert "Do not visit alone. Phone first." in after and "MCR-" in after, after
