"""A real browser: Playwright driving Debian's Chromium (never a downloaded one)."""

import os
import shutil
from pathlib import Path

import pytest

# Playwright's sync API keeps an event loop in this thread; the ORM calls the tests make
# between browser steps are still plain synchronous code.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
DOCS = Path(__file__).resolve().parents[2] / "docs"


@pytest.fixture(scope="session")
def playwright():
    if not Path(CHROMIUM).exists():
        message = "Debian's chromium is not installed (apt-get install chromium)"
        if os.environ.get("REQUIRE_BROWSER"):
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture
def chromium(playwright):
    # One browser per test: closing it ends its keep-alive connections to the live server
    # while the test's database is still there.
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
    yield browser
    browser.close()


@pytest.fixture
def screenshot(tmp_path):
    """Save a page's screenshot: into docs/ with UPDATE_SCREENSHOTS=1, else a temp folder."""

    def save(page, name: str) -> Path:
        folder = DOCS if os.environ.get("UPDATE_SCREENSHOTS") else tmp_path
        path = folder / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        assert path.stat().st_size > 1000
        return path

    return save
