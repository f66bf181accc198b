"""A real headless browser for tests of HTML output: Debian's chromium driven by selenium.
`.ci/run` installs chromium and chromium-driver; tests skip (saying why) only when no browser
can be found."""
from __future__ import annotations

import shutil

import pytest

BINARIES = ("chromium", "chromium-browser", "google-chrome")


def find_browser() -> tuple[str, str] | None:
    browser = next((shutil.which(b) for b in BINARIES if shutil.which(b)), None)
    driver = shutil.which("chromedriver")
    return (browser, driver) if browser and driver else None


def headless_chromium(width: int = 1300, height: int = 1000):
    """A selenium Chrome driver on headless chromium with browser console logging on."""
    found = find_browser()
    if found is None:
        pytest.skip("no chromium/chromedriver on this machine (.ci/run installs them with "
                    "apt-get install chromium chromium-driver)")
    webdriver = pytest.importorskip("selenium.webdriver")
    options = webdriver.ChromeOptions()
    options.binary_location = found[0]
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                f"--window-size={width},{height}"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(options=options, service=webdriver.ChromeService(found[1]))
