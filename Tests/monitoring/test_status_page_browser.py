"""The status page (`GET /`) in a real browser: Debian's headless Chromium, driven over the DevTools
protocol on a pipe (`--remote-debugging-pipe`, no extra Python packages).

Sentinel (`.build/debug/registry-cli serve`) runs on a free loopback port with a temporary registry
holding the bundled examples (`registry-cli bootstrap --models models`). Before it starts, the
fixture writes an hour of earlier traffic of v2 straight into the registry (v2's promotion 58 minutes
ago, then 20-60 audit rows a minute from 55 to 3 minutes ago, features from the golden rows), so the
charts show what a person sees on a service that has been up for a while. Then a short bounded load
of golden rows from models/fraud-xgboost/golden.jsonl goes through `/predict` on v2, v3 is promoted
with `registry-cli promote v3`, and more load goes to v3. Only 127.0.0.1 is used; the service and
the browser are ended by their PIDs.

The page is opened at a laptop (1366x900) and a phone (390x844, scale 2) viewport. Each visit must
log no console error or warning, throw no exception, request nothing but the page itself, show v3
as the active version and three charts with a line for each version, summarise exactly the audit
rows of the window it names, and fit the viewport's width. Screenshots go to
$SCREENSHOT_DIR (default .build/screenshots/, so that a test run leaves the checkout clean); with
UPDATE_SCREENSHOTS=1 they replace docs/status-page.png and docs/status-page-phone.png. A control page with a script error and an outside stylesheet proves
that the checks can fail.

Needs: Debian's `chromium` (`apt-get install -y --no-install-recommends chromium`), the debug build
of registry-cli, pytest.
"""

import base64
import fcntl
import json
import math
import os
import random
import select
import shutil
import signal
import sqlite3
import struct
import subprocess
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from monitoring_helpers import REGISTRY_CLI, REPO, http, service_env, start_service, stop, wait_for

GOLDEN = REPO / "models" / "fraud-xgboost" / "golden.jsonl"
SCREENSHOT_DIR = (REPO / "docs") if os.environ.get("UPDATE_SCREENSHOTS") == "1" else \
    Path(os.environ.get("SCREENSHOT_DIR", REPO / ".build" / "screenshots"))
SCREENSHOTS = {"laptop": SCREENSHOT_DIR / "status-page.png", "phone": SCREENSHOT_DIR / "status-page-phone.png"}
VIEWPORTS = {  # width, height, device scale factor, mobile
    "laptop": (1366, 900, 1, False),
    "phone": (390, 844, 2, True),
}
SCREENSHOT_LIMIT_BYTES = 600 * 1024
def chromium_binary() -> str:
    path = shutil.which("chromium") or ("/usr/bin/chromium" if os.path.exists("/usr/bin/chromium") else None)
    if path is None:
        pytest.fail("chromium is not installed: apt-get install -y --no-install-recommends chromium")
    return path


def stored_time(moment: datetime) -> str:
    """The registry's one time format: 2026-11-29T08:30:00.123Z."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


# ---------------------------------------------------------------------------------------------
# The browser, over the DevTools protocol on a pipe

class DevToolsError(Exception):
    pass


@dataclass
class Visit:
    dom: dict
    png: bytes
    problems: list = field(default_factory=list)  # console errors, exceptions, failed or foreign requests
    requests: list = field(default_factory=list)


class Chromium:
    """Headless Chromium with its DevTools protocol on fds 3 (commands in) and 4 (answers out),
    messages separated by NUL bytes."""

    def __init__(self, workdir):
        to_chrome_r, self.to_chrome = os.pipe()
        self.from_chrome, from_chrome_w = os.pipe()

        def place_pipes():  # in the child, before exec: the protocol's fds are 3 and 4
            read_end = fcntl.fcntl(to_chrome_r, fcntl.F_DUPFD, 100)
            write_end = fcntl.fcntl(from_chrome_w, fcntl.F_DUPFD, 100)
            os.dup2(read_end, 3)
            os.dup2(write_end, 4)

        self.log = open(workdir / "chromium.log", "wb")
        self.process = subprocess.Popen(
            [chromium_binary(), "--headless", "--no-sandbox", "--disable-gpu", "--remote-debugging-pipe",
             f"--user-data-dir={workdir / 'profile'}", "--no-first-run", "--no-default-browser-check",
             "--disable-extensions", "--disable-background-networking", "--disable-component-update",
             "--disable-sync", "--mute-audio", "--hide-scrollbars", "--force-color-profile=srgb", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log, close_fds=False, preexec_fn=place_pipes)
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self.buffer = b""
        self.pending = []  # messages read while waiting for something else
        self.next_id = 0

    def _read_message(self, deadline):
        while b"\0" not in self.buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise DevToolsError("timed out waiting for the browser")
            ready, _, _ = select.select([self.from_chrome], [], [], remaining)
            if ready:
                chunk = os.read(self.from_chrome, 1 << 20)
                if not chunk:
                    raise DevToolsError("the browser closed its pipe (see chromium.log)")
                self.buffer += chunk
        message, self.buffer = self.buffer.split(b"\0", 1)
        return json.loads(message)

    def send(self, method, params=None, session=None, timeout=30):
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self.to_chrome, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            answer = self._read_message(deadline)
            if answer.get("id") == self.next_id:
                if "error" in answer:
                    raise DevToolsError(f"{method}: {answer['error']}")
                return answer.get("result", {})
            self.pending.append(answer)

    def wait_for(self, event, session, timeout=30):
        deadline = time.monotonic() + timeout
        while True:
            for message in self.pending:
                if message.get("method") == event and message.get("sessionId") == session:
                    return message
            self.pending.append(self._read_message(deadline))

    def drain(self, seconds):
        """Collects whatever arrives in the next `seconds` (late console messages)."""
        deadline = time.monotonic() + seconds
        try:
            while True:
                self.pending.append(self._read_message(deadline))
        except DevToolsError as error:
            if "timed out" not in str(error):
                raise

    def visit(self, url, width, height, scale, mobile, evaluate) -> Visit:
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.send(f"{domain}.enable", session=session)
        self.send("Emulation.setDeviceMetricsOverride",
                  {"width": width, "height": height, "deviceScaleFactor": scale, "mobile": mobile}, session=session)
        if mobile:
            self.send("Emulation.setTouchEmulationEnabled", {"enabled": True}, session=session)
        self.pending = [m for m in self.pending if m.get("sessionId") != session]
        self.send("Page.navigate", {"url": url}, session=session)
        self.wait_for("Page.loadEventFired", session)
        self.drain(0.5)
        result = self.send("Runtime.evaluate", {"expression": evaluate, "returnByValue": True}, session=session)
        if "exceptionDetails" in result:
            raise DevToolsError(f"page inspection failed: {result['exceptionDetails']}")
        png = base64.b64decode(self.send("Page.captureScreenshot", {"format": "png"}, session=session)["data"])
        visit = Visit(dom=result["result"]["value"], png=png)
        for message in (m for m in self.pending if m.get("sessionId") == session):
            method, params = message.get("method"), message.get("params", {})
            if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "warning", "assert"):
                visit.problems.append(f"console.{params['type']}: {[a.get('value', a.get('description')) for a in params.get('args', [])]}")
            elif method == "Runtime.exceptionThrown":
                details = params.get("exceptionDetails", {})
                visit.problems.append(f"exception: {details.get('exception', {}).get('description') or details.get('text')}")
            elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
                visit.problems.append(f"log ({params['entry'].get('source')}): {params['entry'].get('text')} {params['entry'].get('url', '')}")
            elif method == "Network.loadingFailed":
                visit.problems.append(f"request failed: {params.get('errorText')}")
            elif method == "Network.requestWillBeSent":
                requested = params["request"]["url"]
                visit.requests.append(requested)
                if requested != url and not requested.startswith("data:"):
                    visit.problems.append(f"requested something besides the page: {requested}")
        self.pending = [m for m in self.pending if m.get("sessionId") != session]
        self.send("Target.closeTarget", {"targetId": target})
        return visit

    def close(self):
        try:
            self.send("Browser.close", timeout=5)
        except (DevToolsError, OSError):
            pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
        for fd in (self.to_chrome, self.from_chrome):
            os.close(fd)
        self.log.close()


# What the page shows, read from the DOM the browser built (not from the HTML text).
INSPECT = """(() => {
  const charts = [...document.querySelectorAll('svg.chart')].map(svg => {
    const box = svg.getBoundingClientRect();
    return {
      id: svg.closest('figure') ? svg.closest('figure').id : null,
      width: box.width, height: box.height,
      empty: !!svg.querySelector('text.empty'),
      series: [...svg.querySelectorAll('path.series')].map(p => ({
        name: p.dataset.series, points: Number(p.dataset.points), length: p.getTotalLength(),
      })),
      legend: [...svg.closest('figure').querySelectorAll('.legend li')].map(li => li.textContent),
    };
  });
  const stats = document.getElementById('render-stats');
  return {
    title: document.title,
    active: [...document.querySelectorAll('[id^="active-"] h3 .version')].map(e => e.textContent),
    serving: [...document.querySelectorAll('[id^="serving-"] .version')].map(e => e.textContent),
    charts,
    rows: stats ? Number(stats.dataset.auditRows) : null,
    windowStart: stats ? stats.dataset.windowStart : null,
    windowEnd: stats ? stats.dataset.windowEnd : null,
    scripts: document.scripts.length,
    scrollWidth: document.documentElement.scrollWidth,
    innerWidth: window.innerWidth,
    text: document.body.innerText,
  };
})()"""


# ---------------------------------------------------------------------------------------------
# The service with an hour of traffic

def backfill_earlier_traffic(db_path, now):
    """v2 promoted 58 minutes ago and its traffic since, until two minutes ago, written as the
    service would have written it (the audit log and the promotion history are append-only by
    trigger against UPDATE and DELETE; inserting is how they grow)."""
    golden = [json.loads(line) for line in GOLDEN.read_text().splitlines()]
    generator = random.Random(7)
    with sqlite3.connect(db_path, timeout=10) as db:
        ids = dict(db.execute("SELECT v.version, v.id FROM model_versions v JOIN models m ON m.id = v.model_id WHERE m.name = 'fraud'"))
        model_id, threshold = db.execute("SELECT model_id, threshold FROM model_versions WHERE id = ?", (ids[2],)).fetchone()
        db.execute("UPDATE model_versions SET stage = 'production' WHERE id = ?", (ids[2],))
        db.execute("INSERT INTO promotions (model_id, from_version_id, to_version_id, action, promoted_at, promoted_by, reason) "
                   "VALUES (?, NULL, ?, 'promote', ?, 'status-page-test', 'earlier traffic (test fixture)')",
                   (model_id, ids[2], stored_time(now - timedelta(minutes=58))))
        rows = []
        # From 55 minutes ago to 3 minutes ago: the page's window (the 60 minutes ending with the
        # current one) still holds all of it if the rest of the fixture takes a few minutes.
        start = (now - timedelta(minutes=55)).replace(second=0, microsecond=0)
        for minute in range(53):
            begin = start + timedelta(minutes=minute)
            count = int(40 + 20 * math.sin(minute / 9))
            for index in range(count):
                row = golden[(minute * 61 + index) % len(golden)]
                latency = generator.randint(350, 1100) if generator.random() > 0.02 else generator.randint(3000, 9000)
                at = begin + timedelta(milliseconds=int(60_000 * index / count))
                rows.append((stored_time(at), f"earlier-{minute}-{index}", model_id, ids[2], json.dumps(row["features"], separators=(",", ":")),
                             row["score"], "fraud" if row["score"] >= threshold else "legit", latency))
        db.executemany("INSERT INTO predictions (predicted_at, request_id, row_index, model_id, version_id, features, score, decision, latency_us) "
                       "VALUES (?, ?, 0, ?, ?, ?, ?, ?, ?)", rows)
    return len(rows)


@dataclass
class Service:
    url: str
    db: str
    process: subprocess.Popen


def serving(url, version):
    status, body = http("GET", f"{url}/readyz")
    return status == 200 and json.loads(body)["serving"].get("fraud") == version


def send_load(url, rows, version):
    for index, row in enumerate(rows):
        status, body = http("POST", f"{url}/predict", json.dumps({"features": row["features"], "request_id": f"{version}-{index}"}).encode())
        assert status == 200, body
        assert json.loads(body)["version"] == version
    for start in range(0, len(rows), 10):
        batch = [row["features"] for row in rows[start:start + 10]]
        status, body = http("POST", f"{url}/predict", json.dumps({"instances": batch}).encode())
        assert status == 200, body


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    work = tmp_path_factory.mktemp("status-page")
    db = work / "registry.db"
    env = service_env(db, "status-page-test")

    def cli(*args):
        result = subprocess.run([str(REGISTRY_CLI), *args], capture_output=True, text=True, env=env, timeout=60, cwd=REPO)
        assert result.returncode == 0, result.stderr
        return result.stdout

    cli("bootstrap", "--models", "models")
    backfill_earlier_traffic(db, datetime.now(timezone.utc))

    process, url, log = start_service(work, env)
    try:
        wait_for("v2 to serve", lambda: serving(url, "v2"), 20, (log,))
        golden = [json.loads(line) for line in GOLDEN.read_text().splitlines()]
        send_load(url, golden[:40], "v2")
        cli("promote", "v3", "--reason", "better recall at the same precision")
        wait_for("v3 to serve", lambda: serving(url, "v3"), 20, (log,))
        send_load(url, golden[40:100], "v3")
        yield Service(url=url, db=str(db), process=process)
    finally:
        stop(process, timeout=30)


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    chromium = Chromium(tmp_path_factory.mktemp("chromium"))
    try:
        yield chromium
    finally:
        chromium.close()


@pytest.fixture(scope="module")
def visits(service, browser):
    results = {}
    for name, (width, height, scale, mobile) in VIEWPORTS.items():
        results[name] = browser.visit(service.url + "/", width, height, scale, mobile, INSPECT)
    return results


# ---------------------------------------------------------------------------------------------
# The checks

@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_renders_without_console_errors_and_fetches_nothing_else(visits, service, viewport):
    visit = visits[viewport]
    assert visit.problems == []
    assert visit.requests == [service.url + "/"]
    assert visit.dom["scripts"] == 0


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_shows_the_active_version_and_non_empty_charts(visits, viewport):
    dom = visits[viewport].dom
    assert dom["active"] == ["v3"], dom["text"][:500]
    assert dom["serving"] == ["v3"]
    assert "fraud v3" in dom["title"]
    assert [chart["id"] for chart in dom["charts"]] == ["chart-predictions", "chart-latency", "chart-flagged"]
    for chart in dom["charts"]:
        assert not chart["empty"], chart["id"]
        drawn = {line["name"].split(" ")[0] for line in chart["series"] if line["points"] > 0}
        assert drawn == {"v2", "v3"}, chart
        # v2 has most of an hour of minutes: its lines have length, not only dots.
        assert all(line["length"] > 50 for line in chart["series"] if line["name"].startswith("v2")), chart
        assert chart["legend"] and all(name in " ".join(chart["legend"]) for name in ("v2", "v3"))
        assert chart["height"] > 100


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_fits_the_viewport(visits, viewport):
    dom = visits[viewport].dom
    width = VIEWPORTS[viewport][0]
    # Nothing wider than the screen: wide tables scroll inside their own box.
    assert dom["innerWidth"] == width and dom["scrollWidth"] <= width, (dom["scrollWidth"], width)
    for chart in dom["charts"]:
        assert 250 <= chart["width"] <= width, chart


def test_summarises_the_audit_rows_of_its_window(visits, service):
    dom = visits["laptop"].dom
    with sqlite3.connect(service.db) as db:
        (count,) = db.execute("SELECT count(*) FROM predictions WHERE predicted_at >= ? AND predicted_at < ?",
                              (dom["windowStart"], dom["windowEnd"])).fetchone()
        (total,) = db.execute("SELECT count(*) FROM predictions").fetchone()
    assert dom["rows"] == count > 0
    assert count == total  # everything in this registry is from the last hour
    assert f"Summarised {count:,} audit rows" in dom["text"]


def test_writes_screenshots(visits):
    for name, path in SCREENSHOTS.items():
        png = visits[name].png
        assert png[:8] == b"\x89PNG\r\n\x1a\n"
        width, height = struct.unpack(">II", png[16:24])
        viewport_width, viewport_height, scale, _ = VIEWPORTS[name]
        assert (width, height) == (viewport_width * scale, viewport_height * scale)
        assert len(png) < SCREENSHOT_LIMIT_BYTES, f"{name}: {len(png)} bytes"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(png)


def test_the_checks_can_fail(browser, tmp_path):
    """A control page with a script error, a console error and an outside stylesheet: each is caught."""
    page = tmp_path / "broken.html"
    page.write_text('<!doctype html><html><head><link rel="stylesheet" href="http://127.0.0.1:9/missing.css"></head>'
                    '<body><script>console.error("control"); notDefined();</script></body></html>')
    visit = browser.visit(page.as_uri(), 800, 600, 1, False, "document.title")
    text = "\n".join(visit.problems)
    assert "console.error" in text and "control" in text
    assert "notDefined" in text
    assert "127.0.0.1:9/missing.css" in text
