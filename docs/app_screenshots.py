"""Take the screenshots of the web app shown in the README and on the site (docs/images/app_*.png).

Starts ``contactflow app`` on a free port, drives it in headless Chromium
with Playwright (the system's Chromium, as the tests do) and saves:

* ``app_scenario.png``: the preset with chat agents and web resolve changed,
  the instant estimate above the form, and a refused value next to its field;
* ``app_whatif.png``: that change as a variant compared with the preset,
  with the paired differences per day.

Run from the repository root, with the app extra installed::

    pip install ".[test,app]"
    python docs/app_screenshots.py [--chromium /usr/bin/chromium]
"""

from __future__ import annotations

import argparse
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from playwright.sync_api import expect, sync_playwright

IMAGES = Path(__file__).resolve().parent / "images"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]


def start_app() -> tuple[subprocess.Popen, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    process = subprocess.Popen([sys.executable, "-m", "simulator", "app", "--no-browser", "--port", str(port)])
    url = f"http://127.0.0.1:{port}/"
    for _ in range(200):
        try:
            urllib.request.urlopen(url, timeout=2).close()
            return process, url
        except OSError:
            time.sleep(0.3)
    process.kill()
    raise SystemExit("the app did not start")


def number(page, element_id: str, value: str) -> None:
    page.locator(f"#{element_id}").fill(value)
    page.locator(f"#{element_id}").press("Tab")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    args = parser.parse_args()
    process, url = start_app()
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=args.chromium, args=ARGS)
            page = browser.new_page(viewport={"width": 1440, "height": 1250}, device_scale_factor=1)
            expect.set_options(timeout=120_000)
            page.goto(url)
            expect(page.locator("#form-state")).to_contain_text("valid")
            page.get_by_role("button", name="Scenario", exact=True).click()  # close the first section
            page.get_by_role("button", name="Channel: Chat (chat)", exact=True).click()
            number(page, "g0_f_channels_2echat_2eagents__count", "24")
            number(page, "g0_f_channels_2echat_2eresolve", "1.3")
            expect(page.locator("#g0_f_channels_2echat_2eresolve__problem")).not_to_be_empty()
            page.locator("#g0_f_channels_2echat_2eresolve").blur()
            page.evaluate("window.scrollTo(0, 0)")
            page.screenshot(path=str(IMAGES / "app_scenario.png"))

            number(page, "g0_f_channels_2echat_2eresolve", "0.8")
            expect(page.locator("#form-state")).to_contain_text("2 field(s) changed")
            page.get_by_role("tab", name="What-if").click()
            page.locator("#variant_name").fill("better chat")
            page.locator("#add_variant").click()
            number(page, "cmp_reps", "5")
            number(page, "cmp_days", "1")
            page.locator("#compare").click()
            expect(page.locator("#comparison-table")).to_contain_text("calls a day")
            expect(page.locator("#cmp_chart img")).to_be_visible()
            page.evaluate("window.scrollTo(0, document.querySelector('#cmp_status').getBoundingClientRect().top"
                          " + window.scrollY - 10)")
            page.screenshot(path=str(IMAGES / "app_whatif.png"))
            browser.close()
    finally:
        process.terminate()
        process.wait(10)
    print(f"wrote {IMAGES / 'app_scenario.png'} and {IMAGES / 'app_whatif.png'}")


if __name__ == "__main__":
    main()
