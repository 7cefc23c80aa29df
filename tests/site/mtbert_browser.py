"""Debian's chromium driven by Playwright (PyPI `playwright`, no browser download), for tests/site/ and tests/test_lab.py."""
from __future__ import annotations

import contextlib
import os
import socket
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path(os.environ.get("MTBERT_CHROMIUM", "/usr/bin/chromium"))
SCREENSHOTS = Path(os.environ.get("MTBERT_SCREENSHOTS", ROOT / "build" / "screenshots"))


def require_chromium() -> None:
    """Skip (on a developer's machine) or fail (in CI) when chromium is not installed."""
    if CHROMIUM.exists():
        return
    reason = f"needs Debian's chromium at {CHROMIUM}: `make browser` installs it (as root)"
    if os.environ.get("CI"):
        pytest.fail(reason + "; CI must install it (.ci/run runs `make browser`)")
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def screenshot(page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / name
    page.screenshot(path=str(path), full_page=False)
    print(f"screenshot: {path}")
    return path


@contextlib.contextmanager
def chromium():
    """A headless chromium browser (Playwright's sync API)."""
    require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                    args=["--disable-dev-shm-usage", "--disable-gpu"])
        try:
            yield browser
        finally:
            browser.close()


class ConsoleLog:
    """Console errors, uncaught exceptions, failed requests and HTTP errors seen by a page."""

    def __init__(self, page):
        self.problems: list[str] = []
        page.on("console", lambda m: m.type == "error" and self.problems.append(f"console error: {m.text}"))
        page.on("pageerror", lambda e: self.problems.append(f"uncaught exception: {e}"))
        page.on("requestfailed", lambda r: self.problems.append(f"request failed: {r.url} ({r.failure})"))
        page.on("response", lambda r: r.status >= 400 and self.problems.append(f"HTTP {r.status}: {r.url}"))

    def take(self) -> list[str]:
        out, self.problems[:] = list(self.problems), []
        return out
