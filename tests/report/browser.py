"""A real headless Chromium (the system package) driven over the DevTools protocol with aiohttp.

Opens a page, records console errors, uncaught exceptions and every network request, runs a
JavaScript expression in the page, and takes a screenshot. No browser is downloaded: the test skips
with the reason when the system has no chromium (``make sysdeps`` installs it).
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

CANDIDATES = ("chromium", "chromium-browser", "google-chrome")
_LISTENING = re.compile(r"DevTools listening on (ws://\S+)")


def find_chromium() -> str | None:
    return next((path for name in CANDIDATES if (path := shutil.which(name))), None)


@dataclass
class PageVisit:
    console_errors: list[str] = field(default_factory=list)
    exceptions: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    result: Any = None
    screenshot: bytes = b""


async def visit(url: str, expression: str, *, width: int = 1200, height: int = 2400) -> PageVisit:
    """Load ``url``, wait for it, evaluate ``expression`` (its JSON value lands in ``result``)."""
    chromium = find_chromium()
    assert chromium, "no chromium on this machine"
    with tempfile.TemporaryDirectory(prefix="tm-chromium-", ignore_cleanup_errors=True) as profile:
        proc = subprocess.Popen(
            [
                chromium,
                "--headless",
                "--no-sandbox",  # root in CI: Chromium's own sandbox refuses to start as root
                "--disable-gpu",
                "--no-first-run",
                "--disable-background-networking",
                f"--user-data-dir={profile}",
                "--remote-debugging-port=0",
                f"--window-size={width},{height}",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            browser_ws = await asyncio.wait_for(asyncio.to_thread(_read_endpoint, proc), 60)
            return await _drive(browser_ws, url, expression, width, height)
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _read_endpoint(proc: subprocess.Popen[str]) -> str:
    assert proc.stderr is not None
    for line in proc.stderr:
        if match := _LISTENING.search(line):
            return match.group(1)
    raise RuntimeError(f"chromium exited ({proc.wait()}) without a DevTools endpoint")


class _Session:
    """One DevTools websocket: commands by id, events into a queue."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.ids = itertools.count(1)
        self.pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self.events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for message in self.ws:
            data = json.loads(message.data)
            if "id" in data and data["id"] in self.pending:
                self.pending.pop(data["id"]).set_result(data)
            else:
                await self.events.put(data)

    async def send(self, method: str, session: str | None = None, **params: Any) -> dict[str, Any]:
        ident = next(self.ids)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.pending[ident] = future
        payload: dict[str, Any] = {"id": ident, "method": method, "params": params}
        if session:
            payload["sessionId"] = session
        await self.ws.send_str(json.dumps(payload))
        reply = await asyncio.wait_for(future, 60)
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        return reply.get("result", {})


async def _drive(browser_ws: str, url: str, expression: str, width: int, height: int) -> PageVisit:
    visit = PageVisit()
    async with aiohttp.ClientSession() as http, http.ws_connect(browser_ws, max_msg_size=0) as ws:
        cdp = _Session(ws)
        target = (await cdp.send("Target.createTarget", url="about:blank"))["targetId"]
        sid = (await cdp.send("Target.attachToTarget", targetId=target, flatten=True))["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            await cdp.send(f"{domain}.enable", sid)
        await cdp.send(
            "Emulation.setDeviceMetricsOverride",
            sid,
            width=width,
            height=height,
            deviceScaleFactor=1,
            mobile=False,
        )
        await cdp.send("Page.navigate", sid, url=url)
        await _collect_until_loaded(cdp, visit)
        await asyncio.sleep(0.5)  # let plotly finish drawing after the load event
        _drain(cdp, visit)
        value = await cdp.send("Runtime.evaluate", sid, expression=expression, returnByValue=True)
        visit.result = value.get("result", {}).get("value")
        shot = await cdp.send("Page.captureScreenshot", sid, format="png")
        visit.screenshot = base64.b64decode(shot["data"])
        _drain(cdp, visit)
        cdp.reader.cancel()
    return visit


async def _collect_until_loaded(cdp: _Session, visit: PageVisit) -> None:
    while True:
        event = await asyncio.wait_for(cdp.events.get(), 60)
        _record(event, visit)
        if event.get("method") == "Page.loadEventFired":
            return


def _drain(cdp: _Session, visit: PageVisit) -> None:
    while not cdp.events.empty():
        _record(cdp.events.get_nowait(), visit)


def _record(event: dict[str, Any], visit: PageVisit) -> None:
    method, params = event.get("method"), event.get("params", {})
    if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
        visit.console_errors.append(
            " ".join(str(a.get("value", a.get("description"))) for a in params["args"])
        )
    elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
        visit.console_errors.append(params["entry"].get("text", ""))
    elif method == "Runtime.exceptionThrown":
        details = params["exceptionDetails"]
        visit.exceptions.append(details.get("exception", {}).get("description") or details.get("text", ""))
    elif method == "Network.requestWillBeSent":
        visit.requests.append(params["request"]["url"])


def save(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path
