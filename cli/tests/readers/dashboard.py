"""The dashboard as a person sees it: Debian's Chromium, headless, driven by
Selenium through Debian's chromedriver (both given by path, so Selenium
never tries to download a browser or a driver).

Usage: dashboard.py URL TOKEN SCREENSHOT

Opens URL, checks that a wrong token is refused with a message, signs in
with TOKEN, waits until every chart has drawn data points and the incidents and
governance tables have their rows, saves a screenshot (PNG) to SCREENSHOT, signs out, and
prints one JSON object: who was signed in, the points per chart, the
incident rows, the change-failure rates as shown, and the errors the
browser's console reported (a Content-Security-Policy violation among them).
"""

import json
import os
import sys

os.environ.setdefault("SE_OFFLINE", "true")

from selenium import webdriver  # noqa: E402
from selenium.common.exceptions import TimeoutException  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as EC  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
WIDTH, HEIGHT = 1400, 2000
TIMEOUT_S = 120

# Every chart's points and the table's rows, once all are drawn; else null.
DRAWN = """
const charts = [...document.querySelectorAll('.chart')];
const rows = document.getElementById('incidents').dataset.rows;
const findings = document.getElementById('findings').dataset.rows;
const exceptions = document.getElementById('exceptions').dataset.rows;
if (charts.length === 0 || charts.some(c => c.dataset.points === undefined) || rows === undefined
    || findings === undefined || exceptions === undefined) {
  return null;
}
return {
  charts: Object.fromEntries(charts.map(c => [c.id, Number(c.dataset.points)])),
  incident_rows: Number(rows),
  finding_rules: Number(findings),
  exception_rows: Number(exceptions),
  governance_status: document.getElementById('governance-status').textContent,
};
"""

RATES = """
return Object.fromEntries([...document.querySelectorAll('.rate')].map(r => [
  r.id, r.querySelector('.rate-value').textContent + ' (' + r.querySelector('.rate-detail').textContent + ')',
]));
"""


def browser() -> webdriver.Chrome:
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",  # the tests run as root
        "--disable-dev-shm-usage",
        "--disable-gpu",
        f"--window-size={WIDTH},{HEIGHT}",
        "--hide-scrollbars",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)


def sign_in(driver: webdriver.Chrome, token: str) -> None:
    field = WebDriverWait(driver, TIMEOUT_S).until(EC.visibility_of_element_located((By.ID, "token")))
    field.clear()
    field.send_keys(token)
    driver.find_element(By.CSS_SELECTOR, "#sign-in-form button[type=submit]").click()


def wait_for(driver, condition, what: str):
    try:
        return WebDriverWait(driver, TIMEOUT_S, poll_frequency=0.2).until(condition)
    except TimeoutException:
        page = driver.find_element(By.TAG_NAME, "body").text
        console = [entry["message"] for entry in driver.get_log("browser")]
        sys.exit(f"timed out waiting for {what}\npage:\n{page}\nconsole:\n" + "\n".join(console))


def main(url: str, token: str, screenshot: str) -> None:
    driver = browser()
    try:
        # The viewport itself, whatever room the window's frame takes.
        driver.execute_cdp_cmd(
            "Emulation.setDeviceMetricsOverride",
            {"width": WIDTH, "height": HEIGHT, "deviceScaleFactor": 1, "mobile": False},
        )
        driver.get(url)

        sign_in(driver, "not-a-token")
        error = wait_for(
            driver,
            lambda d: d.find_element(By.ID, "sign-in-error").is_displayed()
            and d.find_element(By.ID, "sign-in-error").text,
            "the wrong token to be refused",
        )

        sign_in(driver, token)
        drawn = wait_for(driver, lambda d: d.execute_script(DRAWN), "every chart and the table")
        who = driver.find_element(By.ID, "who").text
        rates = driver.execute_script(RATES)
        stored = driver.execute_script("return sessionStorage.getItem('aitrail.token') !== null")
        driver.save_screenshot(screenshot)

        driver.find_element(By.ID, "sign-out").click()
        wait_for(
            driver,
            EC.visibility_of_element_located((By.ID, "sign-in-form")),
            "the sign-in form after signing out",
        )
        forgotten = driver.execute_script("return sessionStorage.getItem('aitrail.token') === null")

        # The browser reports the refused sign-in's 401 itself; nothing else
        # may be an error.
        console_errors = [
            entry["message"]
            for entry in driver.get_log("browser")
            if entry["level"] == "SEVERE"
            and not ("/v1/whoami" in entry["message"] and " 401 " in entry["message"])
        ]
    finally:
        driver.quit()
    print(
        json.dumps(
            {
                "wrong_token_error": error,
                "signed_in_as": who,
                "token_kept_in_session": stored,
                **drawn,
                "failure_rates": rates,
                "token_forgotten_on_sign_out": forgotten,
                "console_errors": console_errors,
            }
        )
    )


if __name__ == "__main__":
    main(*sys.argv[1:])
