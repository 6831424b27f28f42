"""Headless Chromium (Debian's chromium and chromedriver, driven by selenium) against a whole
`distill up` stack, with the pages it reads served on loopback.

Chromium is found as DISTILL_CHROMIUM / DISTILL_CHROMEDRIVER or on PATH (`chromium`,
`chromedriver`); scripts/ensure_test_tools.sh installs Debian's packages. Without them
the tests are skipped, saying so. Screenshots go to test-artifacts/browser/.
"""

from __future__ import annotations

import http.server
import json
import os
import re
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import ROOT, Stack, start_stack, stop_stack

ARTIFACTS = ROOT / "test-artifacts" / "browser"
UPLOAD_LIMIT = 2_000_000
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1280,1000",
]


def find_chromium() -> tuple[str, str] | None:
    """(browser, driver) paths, or None."""
    browser = os.environ.get("DISTILL_CHROMIUM") or next(
        (p for p in map(shutil.which, ("chromium", "chromium-browser")) if p), None
    )
    driver = os.environ.get("DISTILL_CHROMEDRIVER") or shutil.which("chromedriver")
    if browser and driver and os.access(browser, os.X_OK) and os.access(driver, os.X_OK):
        return browser, driver
    return None


@pytest.fixture(scope="session")
def chromium() -> tuple[str, str]:
    found = find_chromium()
    if found is None:
        pytest.skip(
            "Chromium not found: run scripts/ensure_test_tools.sh (Debian's chromium and chromium-driver), "
            "or set DISTILL_CHROMIUM and DISTILL_CHROMEDRIVER"
        )
    return found


# --- the pages the stack reads ---------------------------------------------------------------


class Pages:
    """The sample pages, plus /flaky.html (500 after 1.5 s until `fix()`) and /slow.html (answers after a while)."""

    def __init__(self) -> None:
        self.broken = True
        self.flaky_hits = 0
        self.release = threading.Event()
        pages = ROOT / "samples" / "pages"
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                name = self.path.lstrip("/").split("?")[0]
                if name == "flaky.html":
                    outer.flaky_hits += 1
                    if outer.broken:  # slowly: its item is seen running however fast the rest goes
                        time.sleep(1.5)
                        return self._send(500, b"<h1>Internal Server Error</h1>")
                    return self._send(200, (pages / "article.html").read_bytes())
                if name == "slow.html":
                    outer.release.wait(30)
                    return self._send(200, (pages / "article.html").read_bytes())
                path = pages / name
                if name and path.is_file():
                    return self._send(200, path.read_bytes())
                return self._send(404, b"not found")

            def _send(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *a: object) -> None:
                pass

        self.srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.srv.daemon_threads = True
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()
        self.base = f"http://127.0.0.1:{self.srv.server_address[1]}"

    def url(self, name: str) -> str:
        return f"{self.base}/{name}"

    def fix(self) -> None:
        self.broken = False

    def close(self) -> None:
        self.release.set()
        self.srv.shutdown()
        self.srv.server_close()


@pytest.fixture(scope="module")
def pages() -> Iterator[Pages]:
    p = Pages()
    yield p
    p.close()


# --- the stack --------------------------------------------------------------------------------


@dataclass
class Dashboard:
    stack: Stack
    url: str  # as `distill up` printed it, with the key in the fragment

    @property
    def origin(self) -> str:
        return self.url.split("/#", 1)[0]


@pytest.fixture(scope="module")
def dashboard(chromium: tuple[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dashboard]:
    env = {
        "DISTILL_PARSER_MAX_ATTEMPTS": "1",  # a page that answers 500 fails at once, to be retried by hand
        "DISTILL_NOTIFIER_BACKOFF": "0.2,0.5,1",
        "DISTILL_RESTART_BACKOFF_MAX": "0.5",
        "DISTILL_UPLOAD_MAX_FILE_BYTES": str(UPLOAD_LIMIT),  # an upload over it is refused in the page
    }
    stack = start_stack(tmp_path_factory.mktemp("dashboard") / "data", extra_env=env)
    try:
        lines = re.findall(r"^distill: dashboard (\S+)$", stack.log.read_text(errors="replace"), re.M)
        assert len(lines) == 1, f"one dashboard line expected, got {lines}"
        yield Dashboard(stack, lines[0])
    finally:
        stop_stack(stack.proc)


# --- the browser ------------------------------------------------------------------------------


@pytest.fixture
def browser(chromium: tuple[str, str], request: pytest.FixtureRequest) -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    binary, driver_path = chromium
    profile = tempfile.mkdtemp(prefix="distill-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in [*CHROMIUM_FLAGS, f"--user-data-dir={profile}"]:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        report = getattr(request.node, "rep_call", None)
        if report is not None and report.failed:
            shoot(driver, f"FAILED-{request.node.name}")
            try:
                (ARTIFACTS / f"FAILED-{request.node.name}.console.json").write_text(
                    json.dumps(driver.get_log("browser"), indent=1)
                )
            except Exception:
                pass
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def shoot(driver: Any, name: str) -> Path:
    """A screenshot in test-artifacts/browser/ (kept by CI as an artefact)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    driver.save_screenshot(str(path))
    return path


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if report.when == "call":
        item.rep_call = report  # type: ignore[attr-defined]
    return report


def wait_until(fn: Any, timeout: float = 60.0, what: str = "condition", interval: float = 0.2) -> Any:
    """fn()'s first truthy value, polling; AssertionError naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what} (last: {last!r})")
