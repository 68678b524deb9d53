"""The review pack as a person sees it: Debian's Chromium, headless, driven
by Selenium through Debian's chromedriver, with the network switched off
(the file must need nothing from it).

Usage: review_pack.py HTML SCREENSHOT PDF

Opens the file, saves a full-page screenshot (PNG) to SCREENSHOT and the
page printed (PDF, A4) to PDF, and prints one JSON object: the section
headings, the bars drawn per chart, the number of table rows per section,
and the resources the page tried to load.
"""

import base64
import json
import os
import pathlib
import sys

os.environ.setdefault("SE_OFFLINE", "true")

from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
WIDTH = 1200

SEEN = """
return {
  headings: [...document.querySelectorAll('h2')].map(h => h.textContent),
  bars: [...document.querySelectorAll('svg')].map(s => s.querySelectorAll('rect').length),
  rows: [...document.querySelectorAll('section')].map(s => s.querySelectorAll('tbody tr').length),
  loaded: performance.getEntriesByType('resource').map(r => r.name),
  height: document.documentElement.scrollHeight,
};
"""


def main(html: str, screenshot: str, pdf: str) -> None:
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                 "--hide-scrollbars", f"--window-size={WIDTH},1000"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    try:
        driver.execute_cdp_cmd("Network.enable", {})
        driver.execute_cdp_cmd("Network.emulateNetworkConditions", {
            "offline": True, "latency": 0, "downloadThroughput": 0, "uploadThroughput": 0})
        driver.get(pathlib.Path(html).resolve().as_uri())
        seen = driver.execute_script(SEEN)
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
            "width": WIDTH, "height": seen["height"], "deviceScaleFactor": 1, "mobile": False})
        driver.save_screenshot(screenshot)
        printed = driver.execute_cdp_cmd("Page.printToPDF", {
            "paperWidth": 8.27, "paperHeight": 11.69, "printBackground": True})
        pathlib.Path(pdf).write_bytes(base64.b64decode(printed["data"]))
    finally:
        driver.quit()
    print(json.dumps(seen))


if __name__ == "__main__":
    main(*sys.argv[1:])
