"""A tiny headless-Chromium driver for tests: the DevTools protocol over a pipe.

Chromium started with ``--remote-debugging-pipe`` reads protocol commands from
file descriptor 3 and writes replies and events to descriptor 4, each message
one JSON object ended by a NUL byte. That is all this needs: no websocket, no
port, no extra package, and never a downloaded browser (it uses the system's
``chromium``).
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

__all__ = ["find_chromium", "Browser"]

FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--hide-scrollbars", "--window-size=1400,1000",
]


def find_chromium() -> str | None:
    """The system's Chromium executable, or None."""
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    return None


class Browser:
    """One headless Chromium with one page, driven through the DevTools pipe.

    Use it as a context manager, e.g. ``with Browser(find_chromium(), url) as page:``
    then ``page.evaluate("document.title")``, ``page.click("#next")``,
    ``page.screenshot(path)``.
    """

    def __init__(self, executable: str, url: str, timeout: float = 30.0) -> None:
        self.timeout = timeout
        self._profile = tempfile.mkdtemp(prefix="chromium-profile-")
        to_child, self._to_browser = os.pipe()      # we write commands, it reads fd 3
        self._from_browser, from_child = os.pipe()  # it writes fd 4, we read

        def wire_fds() -> None:  # in the child, before exec: the pipe ends become fds 3, 4
            # via fds >= 10 first, so neither end is overwritten nor left close-on-exec
            high_in = fcntl.fcntl(to_child, fcntl.F_DUPFD, 10)
            high_out = fcntl.fcntl(from_child, fcntl.F_DUPFD, 10)
            os.dup2(high_in, 3)
            os.dup2(high_out, 4)

        self._process = subprocess.Popen(
            [executable, *FLAGS, f"--user-data-dir={self._profile}",
             "--remote-debugging-pipe", url],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            # Python's own descriptors are not inherited (PEP 446); dup2 makes 3 and 4 so.
            close_fds=False, preexec_fn=wire_fds,
        )
        os.close(to_child)
        os.close(from_child)
        self._buffer = b""
        self._next_id = 0
        #: the DevTools events received so far (e.g. ``Network.requestWillBeSent``)
        self.events: list[dict] = []
        self._frames: dict[str, str] = {}  # child frame target -> its session
        self._session = None
        try:
            self._attach()
        except BaseException:
            self.close()
            raise

    # --- protocol ----------------------------------------------------------------

    def send(self, method: str, params: dict | None = None,
             session: bool | str = True) -> dict:
        """Send one command and return its result (raises RuntimeError on a protocol error).

        ``session``: True for the page, False for the browser itself, or the id of
        another session (a frame attached by ``evaluate_in_frame``)."""
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params or {}}
        if isinstance(session, str):
            message["sessionId"] = session
        elif session and self._session:
            message["sessionId"] = self._session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + self.timeout
        while True:
            reply = self._read(deadline)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            if "method" in reply:  # an event: kept for the tests that look at them
                self.events.append(reply)

    def _read(self, deadline: float) -> dict:
        while b"\0" not in self._buffer:
            if time.monotonic() > deadline:
                raise TimeoutError("Chromium did not answer in time")
            chunk = os.read(self._from_browser, 1 << 16)
            if not chunk:
                raise RuntimeError("Chromium closed the DevTools pipe")
            self._buffer += chunk
        raw, _, self._buffer = self._buffer.partition(b"\0")
        return json.loads(raw)

    def _attach(self) -> None:
        deadline = time.monotonic() + self.timeout
        while True:
            pages = [t for t in self.send("Target.getTargets", session=False)["targetInfos"]
                     if t["type"] == "page"]
            if pages:
                break
            if time.monotonic() > deadline:
                raise TimeoutError("Chromium opened no page")
            time.sleep(0.1)
        result = self.send("Target.attachToTarget",
                           {"targetId": pages[0]["targetId"], "flatten": True}, session=False)
        self._session = result["sessionId"]

    # --- what tests use --------------------------------------------------------------

    def evaluate(self, expression: str):
        """The JSON value of a JavaScript expression in the page."""
        result = self.send("Runtime.evaluate", {"expression": expression,
                                                "returnByValue": True, "awaitPromise": True})
        if "exceptionDetails" in result:
            raise RuntimeError(f"JavaScript error: {result['exceptionDetails']}")
        return result["result"].get("value")

    def requests(self) -> list[str]:
        """The URLs the page has asked for since ``watch_network()``."""
        return [e["params"]["request"]["url"] for e in self.events
                if e.get("method") == "Network.requestWillBeSent"]

    def watch_network(self) -> None:
        """Record every request from now on, then reload the page so its loading counts."""
        self.send("Network.enable")
        self.send("Page.enable")
        self.send("Page.reload", {"ignoreCache": True})
        time.sleep(0.2)

    def evaluate_in_frame(self, expression: str):
        """The JSON value of an expression in the page's child frame (an ``<iframe>``,
        a sandboxed ``srcdoc`` one too). Chromium runs such a frame as its own target:
        it is attached to once, and the expression evaluated there."""
        frames = [t for t in self.send("Target.getTargets", session=False)["targetInfos"]
                  if t["type"] == "iframe"]
        if not frames:
            raise RuntimeError("no child frame found in the page")
        target = frames[0]["targetId"]
        if target not in self._frames:
            self._frames[target] = self.send("Target.attachToTarget",
                                             {"targetId": target, "flatten": True},
                                             session=False)["sessionId"]
        result = self.send("Runtime.evaluate", {"expression": expression,
                                                "returnByValue": True, "awaitPromise": True},
                           session=self._frames[target])
        if "exceptionDetails" in result:
            raise RuntimeError(f"JavaScript error: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wheel(self, x: float, y: float, delta_y: float) -> None:
        """A mouse wheel turn at (x, y) in CSS px (negative ``delta_y``: away, zoom in)."""
        self.send("Input.dispatchMouseEvent", {"type": "mouseWheel", "x": x, "y": y,
                                               "deltaX": 0, "deltaY": delta_y})

    def drag(self, start: tuple[float, float], end: tuple[float, float], steps: int = 5) -> None:
        """Press the left button at ``start``, move to ``end`` in ``steps``, release."""
        self.send("Input.dispatchMouseEvent", {"type": "mousePressed", "x": start[0],
                                               "y": start[1], "button": "left",
                                               "buttons": 1, "clickCount": 1})
        for k in range(1, steps + 1):
            x = start[0] + (end[0] - start[0]) * k / steps
            y = start[1] + (end[1] - start[1]) * k / steps
            self.send("Input.dispatchMouseEvent", {"type": "mouseMoved", "x": x, "y": y,
                                                   "button": "left", "buttons": 1})
        self.send("Input.dispatchMouseEvent", {"type": "mouseReleased", "x": end[0],
                                               "y": end[1], "button": "left", "buttons": 0,
                                               "clickCount": 1})

    def wait_for(self, expression: str) -> None:
        """Poll until a JavaScript expression is truthy."""
        deadline = time.monotonic() + self.timeout
        while not self.evaluate(expression):
            if time.monotonic() > deadline:
                raise TimeoutError(f"still false: {expression}")
            time.sleep(0.05)

    def click(self, selector: str) -> None:
        """A real mouse click (press and release) in the middle of an element."""
        box = self.evaluate(
            f"(function(){{var r=document.querySelector({json.dumps(selector)})"
            ".getBoundingClientRect();return [r.left+r.width/2, r.top+r.height/2];})()"
        )
        for kind in ("mousePressed", "mouseReleased"):
            self.send("Input.dispatchMouseEvent", {"type": kind, "x": box[0], "y": box[1],
                                                   "button": "left", "clickCount": 1})

    def press(self, key: str, code: int) -> None:
        """Press and release a key, e.g. ``press("ArrowRight", 39)``."""
        for kind in ("keyDown", "keyUp"):
            self.send("Input.dispatchKeyEvent", {"type": kind, "key": key, "code": key,
                                                 "windowsVirtualKeyCode": code})

    def screenshot(self, path: str | Path) -> Path:
        """Save a PNG of the page."""
        data = self.send("Page.captureScreenshot", {"format": "png"})["data"]
        path = Path(path)
        path.write_bytes(base64.b64decode(data))
        return path

    def close(self) -> None:
        """Close the browser and remove its profile directory."""
        try:
            if self._process.poll() is None:
                try:
                    self.send("Browser.close", session=False)
                except (RuntimeError, TimeoutError, OSError):
                    pass
                try:
                    self._process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self._process.kill()
                    self._process.wait()
        finally:
            for fd in (self._to_browser, self._from_browser):
                try:
                    os.close(fd)
                except OSError:
                    pass
            shutil.rmtree(self._profile, ignore_errors=True)

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
