"""The HTML report: self-contained, and it renders in a real browser.

The browser test opens the page in headless Chromium (Debian package ``chromium``),
driven over the DevTools protocol with ``websocket-client``: it waits for the load
event, collects console errors and uncaught exceptions, measures the timeline element,
counts the blocks the browser sees, and takes a screenshot that must show the
timeline's colours. A page with a deliberate ``console.error`` proves that console
errors are caught. Skipped when Chromium or websocket-client is absent.
"""

from __future__ import annotations

import base64
import io
import json
import os
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from tests.test_report_snapshots import known_bad_items
from verify import check, generate
from verify.report.html import render_html


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def _parse(page: str) -> list[tuple[str, dict[str, str | None]]]:
    c = _Collector()
    c.feed(page)
    return c.tags


def _page() -> str:
    good = generate("chimera", 4, 4)
    return render_html([(check(good), good), *known_bad_items()])


def test_page_is_self_contained_and_complete() -> None:
    tags = _parse(_page())
    for tag, attrs in tags:  # nothing is fetched from elsewhere
        for key in ("src", "href"):
            value = attrs.get(key) or ""
            assert not value or value.startswith("#") or value.startswith("url(#"), (tag, key, value)
        assert tag not in ("link", "iframe", "img")
    sections = [a for t, a in tags if t == "section" and "schedule" in (a.get("class") or "")]
    assert len(sections) == 3
    timelines = [a for t, a in tags if t == "div" and a.get("class") == "timeline"]
    assert len(timelines) == 3
    items = [a for t, a in tags if t == "li" and "violation" in (a.get("class") or "").split()]
    expected = sum(len(r.violations) for r, _ in known_bad_items())
    assert len(items) == expected
    ids = [a["id"] for _, a in tags if a.get("id")]
    assert len(ids) == len(set(ids))  # several SVGs on one page: ids stay unique


def test_verdicts_and_metrics_tables() -> None:
    page = _page()
    assert page.count('<table class="properties">') == 3
    assert page.count('class="metrics per-worker"') == 2  # the deadlocked schedule has none
    assert "no metrics: the schedule does not run to completion" in page
    assert 'class="violated">VIOLATED' in page
    assert "reproduce: <code>chimera-verify check schedules/1f1b_swapped.csv" in page


# --------------------------------------------------------------------- browser
CHROME_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--hide-scrollbars", "--window-size=1280,1600", "--remote-debugging-port=0",
)


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    return None


class DevTools:
    """A minimal DevTools-protocol client over one page target."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.next_id = 0
        self.events: list[dict[str, Any]] = []

    def send(self, method: str, params: dict[str, Any] | None = None, timeout: float = 20.0) -> Any:
        self.next_id += 1
        my_id = self.next_id
        self.ws.send(json.dumps({"id": my_id, "method": method, "params": params or {}}))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == my_id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            self.events.append(msg)
        raise TimeoutError(method)

    def wait_for(self, method: str, timeout: float = 20.0) -> dict[str, Any]:
        for e in self.events:
            if e.get("method") == method:
                return e
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            msg = json.loads(self.ws.recv())
            self.events.append(msg)
            if msg.get("method") == method:
                return msg
        raise TimeoutError(method)

    def errors(self) -> list[str]:
        out: list[str] = []
        for e in self.events:
            m, p = e.get("method"), e.get("params", {})
            if m == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
                out.append("console: " + " ".join(str(a.get("value", a.get("description")))
                                                  for a in p.get("args", [])))
            elif m == "Runtime.exceptionThrown":
                out.append("exception: " + str(p.get("exceptionDetails", {}).get("text")))
            elif m == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
                out.append("log: " + str(p["entry"].get("text")))
        return out

    def open(self, url: str) -> None:
        self.events.clear()
        self.send("Page.navigate", {"url": url})
        self.wait_for("Page.loadEventFired")
        self.send("Runtime.evaluate", {"expression": "1", "returnByValue": True})  # flush

    def evaluate(self, expression: str) -> Any:
        result = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        return result["result"].get("value")


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevTools]:
    chrome = _chromium()
    if chrome is None:
        pytest.skip("Chromium is not installed (Debian: apt-get install -y chromium)")
    websocket = pytest.importorskip("websocket")
    profile = tmp_path_factory.mktemp("chromium-profile")
    proc = subprocess.Popen(
        [chrome, *CHROME_FLAGS, f"--user-data-dir={profile}", "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while not (port_file.exists() and port_file.read_text().strip()):
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail("Chromium did not start its DevTools endpoint")
            time.sleep(0.05)
        port = int(port_file.read_text().split()[0])
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as resp:
            targets = json.load(resp)
        page = next(t for t in targets if t.get("type") == "page")
        ws = websocket.create_connection(page["webSocketDebuggerUrl"], timeout=20, suppress_origin=True)
        tools = DevTools(ws)
        for domain in ("Page", "Runtime", "Log"):
            tools.send(f"{domain}.enable")
        yield tools
        ws.close()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_console_errors_are_detected(browser: DevTools, tmp_path: Path) -> None:
    """Negative control: the harness does see a console error when there is one."""
    page = tmp_path / "bad.html"
    page.write_text("<!DOCTYPE html><html><body><script>console.error('boom')</script></body></html>")
    browser.open(page.as_uri())
    assert any("boom" in e for e in browser.errors())


def test_html_report_renders_in_headless_chromium(browser: DevTools, tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    page.write_text(_page(), encoding="utf-8")
    browser.open(page.as_uri())
    assert browser.errors() == []
    box = browser.evaluate(
        "JSON.stringify((function () { var r = document.querySelector('#timeline-0 svg')"
        ".getBoundingClientRect(); return [r.width, r.height]; })())")
    width, height = json.loads(box)
    assert width > 300 and height > 100
    counts = json.loads(browser.evaluate(
        "JSON.stringify([document.querySelectorAll('#timeline-0 rect.op').length,"
        " document.querySelectorAll('#timeline-0 rect.bubble').length,"
        " document.querySelectorAll('section.schedule').length])"))
    assert counts == [32, 8, 3]
    # hovering a counterexample highlights its blocks (the page's script ran)
    focused = browser.evaluate(
        "(function () { var li = document.querySelector('#schedule-1 li.violation');"
        " li.dispatchEvent(new MouseEvent('mouseenter'));"
        " return document.querySelectorAll('#schedule-1 .focus').length; })()")
    assert focused == 2  # a conflict involves two ops
    shot = browser.send("Page.captureScreenshot", {"format": "png"})
    data = base64.b64decode(shot["data"])
    (tmp_path / "report.png").write_bytes(data)
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pil = pytest.importorskip("PIL.Image")
    image = pil.open(io.BytesIO(data)).convert("RGB")
    colours = dict((c, n) for n, c in image.getcolors(maxcolors=1 << 20) or [])
    assert colours.get((0x00, 0x72, 0xB2), 0) > 200  # the down pipeline's B blocks are on screen
    if os.environ.get("CHIMERA_VERIFY_KEEP_SCREENSHOT"):
        shutil.copy(tmp_path / "report.png", os.environ["CHIMERA_VERIFY_KEEP_SCREENSHOT"])
