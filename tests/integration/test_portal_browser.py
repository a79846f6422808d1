"""The portal in a real Chromium, driven by Selenium, against a real `collectonce serve` server.

A provider (RF4) signs in by pasting its token, downloads its XLSX template, fills it in with
openpyxl as an information manager would in Excel, uploads it through the page, reads the
receipt, follows it to the quarantined rows, opens its pack, and is refused another provider's
pack and receipt. A requester pulls its view and downloads it. Every page is scanned with axe
(WCAG 2.1 A and AA rules): no serious or critical violation. Screenshots are saved under
test-output/screenshots/.

Nothing is downloaded: Chromium and its driver are Debian's (`chromium`, `chromium-driver`), and
Selenium is pointed at /usr/bin/chromedriver so its manager never fetches one.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from collectonce.testing import free_port

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "test-output" / "screenshots"
AXE = Path(__file__).resolve().parent / "vendor" / "axe-core" / "axe.min.js"
CHROMEDRIVER = Path("/usr/bin/chromedriver")
WCAG = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
PERIOD = "2019-04"  # the month after the bundled data ends: RF4 has not sent it yet


def _browser() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def _skip_reason() -> str | None:
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install -e '.[dev]')"
    if _browser() is None:
        return "no Chromium on this machine (apt-get install chromium chromium-driver)"
    if not CHROMEDRIVER.exists():
        return "no chromedriver at /usr/bin/chromedriver (apt-get install chromium-driver)"
    return None


if (reason := _skip_reason()) is not None:
    pytest.skip(reason, allow_module_level=True)

from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as ec  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A data folder holding the bundled real A&E data, published, and a real server on it."""
    import uvicorn

    from collectonce.access.auth import create_token
    from collectonce.api.app import build_app
    from collectonce.catalog import load_catalog
    from collectonce.ingest.service import submit_file
    from collectonce.publish.unified import publish
    from collectonce.settings import get_settings

    home = tmp_path_factory.mktemp("portal_browser_home")
    settings = get_settings(home=home, catalog=ROOT / "catalog")
    catalog = load_catalog(ROOT / "catalog")
    received = dt.datetime(2019, 4, 10, 9, 0, tzinfo=dt.UTC)
    receipt = submit_file(ROOT / "data" / "ae_attendances.csv", catalog, settings, now=received)
    assert receipt.accepted_anything, receipt.to_dict()
    publish(catalog, settings, now=received)
    other = tmp_path_factory.mktemp("rrk") / "RRK_2019-04.csv"
    other.write_text(
        "provider_code,period,metric_id,value\nRRK,2019-04,ae_attendances_type1,10500\n"
    )
    rrk_receipt = submit_file(other, catalog, settings, as_provider="RRK").submission_id

    def token(role: str, subject: str | None) -> str:
        return create_token(settings, role=role, subject=subject, catalog=catalog)[1]

    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            build_app(catalog, settings), host="127.0.0.1", port=port, log_level="warning"
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    try:
        yield {
            "url": f"http://127.0.0.1:{port}",
            "settings": settings,
            "RF4": token("provider", "RF4"),
            "nhs_england": token("requester", "nhs_england"),
            "admin": token("admin", None),
            "rrk_receipt": rrk_receipt,
        }
    finally:
        server.should_exit = True
        thread.join(timeout=15)


@pytest.fixture(scope="module")
def downloads(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("downloads")


@pytest.fixture(scope="module")
def browser(downloads: Path) -> Iterator[Any]:
    options = webdriver.ChromeOptions()
    options.binary_location = str(_browser())
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--window-size=1280,1000",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
    ):
        options.add_argument(flag)
    options.add_experimental_option(
        "prefs",
        {
            "download.default_directory": str(downloads),
            "download.prompt_for_download": False,
            "safebrowsing.enabled": False,
        },
    )
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(60)
    driver.set_script_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


def shot(driver: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    height = driver.execute_script("return document.documentElement.scrollHeight") or 1000
    driver.set_window_size(1280, min(max(int(height), 800), 6000))
    driver.save_screenshot(str(SHOTS / f"portal_{name}.png"))
    driver.set_window_size(1280, 1000)


def axe_violations(driver: Any) -> list[dict[str, Any]]:
    """The page's serious and critical WCAG 2.1 A/AA violations, as axe reports them."""
    driver.execute_script(AXE.read_text(encoding="utf-8"))
    found = driver.execute_async_script(
        """
        const done = arguments[arguments.length - 1];
        axe.run(document, {runOnly: {type: "tag", values: arguments[0]}})
          .then(r => done(r.violations.map(v => ({
              id: v.id, impact: v.impact, help: v.help,
              nodes: v.nodes.slice(0, 3).map(n => n.target.join(" "))}))))
          .catch(e => done([{id: "axe-error", impact: "critical", help: String(e), nodes: []}]));
        """,
        WCAG,
    )
    return [v for v in found if v["impact"] in ("serious", "critical")]


def check_page(driver: Any, name: str) -> None:
    shot(driver, name)
    source = driver.page_source
    for leak in ("built-in method", "object at 0x", "Traceback", "Undefined"):
        assert leak not in source, f"{name}: the page shows {leak!r}"
    bad = axe_violations(driver)
    assert not bad, f"{name}: {json.dumps(bad, indent=1)}"


def wait_for(driver: Any, css: str, timeout: float = 30) -> Any:
    return WebDriverWait(driver, timeout).until(
        ec.presence_of_element_located((By.CSS_SELECTOR, css))
    )


def sign_in(driver: Any, base: str, token: str) -> None:
    driver.delete_all_cookies()
    driver.get(base + "/")
    wait_for(driver, "#token")
    driver.find_element(By.ID, "token").send_keys(token)
    driver.find_element(By.ID, "sign-in").click()
    wait_for(driver, ".nhsuk-header__account")


def _downloaded(folder: Path, suffix: str, timeout: float = 30) -> Path:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = [p for p in folder.iterdir() if p.suffix == suffix]
        if done and not list(folder.glob("*.crdownload")):
            return max(done, key=lambda p: p.stat().st_mtime)
        time.sleep(0.2)
    raise AssertionError(f"no {suffix} file was downloaded into {folder}")


def fill_template(template: Path, out: Path) -> Path:
    """The XLSX template filled in as a provider would: a value per row, one of them wrong."""
    import openpyxl

    book = openpyxl.load_workbook(template)
    sheet = book["Data"]
    values = {
        "ae_attendances_type1": 21050,
        "ae_breaches_4hr_type1": 99999,  # more than attendances: the row is rejected
        "ae_attendances_type2": 820,
        "ae_breaches_4hr_type2": 12,
        "ae_attendances_type3": 6950,
        "ae_breaches_4hr_type3": 40,
        "ae_emergency_admissions": 5210,
    }
    filled = 0
    for row in range(2, sheet.max_row + 1):
        metric = sheet.cell(row, 3).value
        if not metric:
            continue
        sheet.cell(row, 4).value = values.get(str(metric), 3)
        filled += 1
    assert filled, "the template has no rows to fill"
    book.save(out)
    return out


def test_the_provider_path_in_a_real_browser(served, browser, downloads, tmp_path):
    base = served["url"]
    browser.get(base + "/")
    wait_for(browser, "#token")
    assert "Sign in" in browser.title
    check_page(browser, "01_sign_in")

    # a wrong token is refused with an error summary
    browser.find_element(By.ID, "token").send_keys("co_0123456789ab_" + "x" * 43)
    browser.find_element(By.ID, "sign-in").click()
    wait_for(browser, ".nhsuk-error-summary")
    check_page(browser, "02_sign_in_refused")

    sign_in(browser, base, served["RF4"])
    assert "What I owe" in browser.page_source
    cookie = browser.get_cookie("collectonce_session")
    assert cookie and cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie.get("expiry")
    check_page(browser, "03_provider_home")

    browser.get(f"{base}/portal/providers/RF4/owe?period={PERIOD}")
    wait_for(browser, "#template-xlsx")
    assert "Why we collect it" in browser.page_source
    check_page(browser, "04_what_i_owe")
    browser.find_element(By.ID, "template-xlsx").click()
    template = _downloaded(downloads, ".xlsx")
    filled = fill_template(template, tmp_path / f"RF4_{PERIOD}.xlsx")

    browser.get(f"{base}/portal/providers/RF4/upload")
    wait_for(browser, "#file")
    check_page(browser, "05_upload")
    browser.find_element(By.ID, "file").send_keys(str(filled))
    assert "ready to upload" in browser.find_element(By.ID, "drop-status").text
    browser.find_element(By.ID, "upload-button").click()
    wait_for(browser, "#receipt-status")
    page = browser.page_source
    assert f"RF4_{PERIOD}.xlsx" in page
    assert "Part of your file was accepted" in page, browser.find_element(By.TAG_NAME, "main").text
    assert "cross_metric_rule" in page
    rows = browser.find_elements(By.CSS_SELECTOR, "table.co-errors tbody tr")
    assert rows, "the receipt lists no errors"
    cells = [c.text for c in rows[0].find_elements(By.TAG_NAME, "td")]
    assert cells[0].isdigit() and int(cells[0]) >= 2, cells  # the row as the provider sees it
    assert cells[4] == "cross_metric_rule" and len(cells[5]) > 20, cells  # rule and how to fix
    check_page(browser, "06_receipt")
    receipt_url = browser.current_url

    browser.find_element(By.ID, "quarantine-link").click()
    wait_for(browser, "#rejected-rows")
    assert "99999" in browser.page_source
    check_page(browser, "07_quarantined_rows")

    browser.get(f"{base}/portal/providers/RF4/submissions")
    wait_for(browser, "main table")
    assert f"RF4_{PERIOD}.xlsx" in browser.page_source
    check_page(browser, "08_my_submissions")

    browser.get(f"{base}/portal/providers/RF4/pack")
    wait_for(browser, "svg.xmr-chart")
    assert "RF4" in browser.title or "RF4" in browser.page_source
    check_page(browser, "09_pack")

    browser.get(f"{base}/portal/providers/RF4/charts")
    wait_for(browser, "main svg")
    check_page(browser, "10_charts")

    # another provider's pack and receipt are refused
    browser.get(f"{base}/portal/providers/RRK/pack")
    wait_for(browser, "main h1")
    assert "cannot see another provider" in browser.find_element(By.TAG_NAME, "h1").text
    assert "xmr-chart" not in browser.page_source
    check_page(browser, "11_refused_other_pack")
    browser.get(f"{base}/portal/submissions/{served['rrk_receipt']}")
    wait_for(browser, "main h1")
    assert "cannot see another provider" in browser.find_element(By.TAG_NAME, "h1").text
    assert "RRK_2019-04.csv" not in browser.page_source

    # signing out ends the session: the receipt now asks for a sign-in
    browser.get(receipt_url)
    browser.find_element(By.CSS_SELECTOR, ".nhsuk-header__account-button").click()
    wait_for(browser, "#token")
    browser.get(receipt_url)
    wait_for(browser, "#token")


def test_a_file_dragged_onto_the_upload_form_is_sent(served, browser):
    """Drag and drop (the enhancement over the plain file input): a file dropped on the form
    is the one uploaded, and its receipt follows."""
    base = served["url"]
    sign_in(browser, base, served["RF4"])
    browser.get(f"{base}/portal/providers/RF4/upload")
    wait_for(browser, "#drop-zone")
    assert browser.find_element(By.CSS_SELECTOR, ".co-drop-hint").is_displayed()
    browser.execute_script(
        """
        const data = new DataTransfer();
        data.items.add(new File(
          ["provider_code,period,metric_id,value\\nRF4,2019-05,ae_attendances_type1,20990\\n"],
          "RF4_dropped.csv", {type: "text/csv"}));
        const zone = document.getElementById("drop-zone");
        zone.dispatchEvent(new DragEvent("dragover", {dataTransfer: data, bubbles: true}));
        zone.dispatchEvent(new DragEvent("drop", {dataTransfer: data, bubbles: true}));
        """
    )
    assert "RF4_dropped.csv is ready" in browser.find_element(By.ID, "drop-status").text
    browser.find_element(By.ID, "upload-button").click()
    wait_for(browser, "#receipt-status")
    assert "RF4_dropped.csv" in browser.page_source
    assert browser.find_element(By.ID, "rows-accepted").text == "1"


def test_a_requester_pulls_and_downloads_a_view(served, browser, downloads):
    base = served["url"]
    sign_in(browser, base, served["nhs_england"])
    check_page(browser, "20_requests")
    browser.get(f"{base}/portal/requests/nhse_ae_monthly")
    wait_for(browser, "#from")
    browser.find_element(By.ID, "from").send_keys("2018-10")
    browser.find_element(By.ID, "to").send_keys("2019-03")
    browser.find_element(By.ID, "show-view").click()
    wait_for(browser, "#view-table")
    check_page(browser, "21_view")
    before = set(downloads.iterdir())
    browser.find_element(By.ID, "download-csv").click()
    deadline = time.monotonic() + 30
    got: list[Path] = []
    while time.monotonic() < deadline and not got:
        got = [p for p in set(downloads.iterdir()) - before if p.suffix == ".csv"]
        time.sleep(0.2)
    assert got, "the CSV was not downloaded"
    text = got[0].read_text(encoding="utf-8")
    assert text.startswith("provider_code,period,item") and "RF4" in text
    browser.get(f"{base}/portal/pulls")
    wait_for(browser, "#pulls")
    assert "nhse_ae_monthly" in browser.page_source
    check_page(browser, "22_pulls")


def test_data_team_pages_pass_axe(served, browser):
    base = served["url"]
    sign_in(browser, base, served["admin"])
    check_page(browser, "30_admin_home")
    for name, path in (
        ("31_publications", "/portal/admin/publications"),
        ("32_publication", "/portal/admin/publications/0"),
        ("33_submissions", "/portal/admin/submissions?period=2019-03"),
        ("34_quarantine", "/portal/admin/quarantine"),
        ("35_burden", "/portal/admin/burden"),
        ("36_dedupe", "/portal/admin/dedupe"),
    ):
        browser.get(base + path)
        wait_for(browser, "main h1")
        check_page(browser, name)
    # the shipped catalogue's review queue: clusters, reasons and the command that accepts one
    assert "requests dedupe --accept" in browser.page_source


def test_the_accessibility_check_can_fail(browser):
    """The scan is real: a page with an unlabelled input and an image without text fails it."""
    browser.get(
        "data:text/html,<html><head><title>x</title></head><body><main>"
        "<input type=text><img src='data:image/gif;base64,R0lGODlhAQABAAAAACw='>"
        "</main></body></html>"
    )
    ids = {v["id"] for v in axe_violations(browser)}
    assert {"label", "image-alt"} <= ids, ids
