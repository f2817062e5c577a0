"""A real browser: Debian's headless Chromium types a problem into ``/`` and reads the answer.

TestClient proves the HTML is right; only a browser proves a person can use it: the form
submits without JavaScript under the strict CSP, the stylesheet loads, the page renders.
The test also saves a screenshot of the search page to ``var/screenshots/`` (git-ignored);
with ``TONGDIAN_UPDATE_SCREENSHOT=1`` it refreshes ``docs/screenshot-search.png``, the
picture the README shows, so a test run never dirties the checkout by itself.

It needs ``chromium``, ``chromium-driver`` (Debian packages) and ``selenium``; where any is
missing it skips and says which. ``.ci/run`` installs them so CI runs it.
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

#: The checkout this file belongs to (tests and benches run from one).
PROJECT_ROOT = Path(__file__).resolve().parents[1]



CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
SCREENSHOT = (
    PROJECT_ROOT / "docs" / "screenshot-search.png"
    if os.environ.get("TONGDIAN_UPDATE_SCREENSHOT") == "1"
    else PROJECT_ROOT / "var" / "screenshots" / "search.png"
)
PROBLEM = "县域网点越来越冷清，运营成本降不下来；同时小微企业贷款审批要两周，客户都流失了"

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _missing() -> str | None:
    if not CHROMIUM.exists():
        return f"no Chromium at {CHROMIUM} (apt-get install chromium chromium-driver)"
    if not CHROMEDRIVER.exists():
        return f"no chromedriver at {CHROMEDRIVER} (apt-get install chromium-driver)"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install selenium)"
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server(engine) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """The real app under uvicorn on a free loopback port, in a background thread."""
    reason = _missing()
    if reason:
        pytest.skip(reason)
    import uvicorn

    from tongdian.api.app import create_app

    port = _free_port()
    config = uvicorn.Config(create_app(engine), host="127.0.0.1", port=port, log_level="warning",
                            lifespan="off")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, name="uvicorn-test", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not srv.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("uvicorn did not start within 30 s")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        srv.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    reason = _missing()
    if reason:
        pytest.skip(reason)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="tongdian-chromium-")
    opts = webdriver.ChromeOptions()
    opts.binary_location = str(CHROMIUM)
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-extensions",
                 "--hide-scrollbars", "--window-size=1280,1400", "--lang=zh-CN",
                 f"--user-data-dir={profile}"):
        opts.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=opts)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def test_search_from_home_page(server: str, browser) -> None:  # type: ignore[no-untyped-def]
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    d = browser
    d.get(server + "/")
    assert "二十大痛点" in d.title
    assert len(d.find_elements(By.CSS_SELECTOR, "li.card")) == 20
    # the stylesheet loaded under the CSP: the masthead is not the default transparent
    head = d.find_element(By.CSS_SELECTOR, "header.masthead")
    assert head.value_of_css_property("background-image") != "none"

    box = d.find_element(By.ID, "q")
    box.send_keys(PROBLEM)
    d.find_element(By.CSS_SELECTOR, "form.searchbox button[type=submit]").click()

    WebDriverWait(d, 60).until(ec.presence_of_element_located((By.CSS_SELECTOR, "li.result")))
    assert "/search?q=" in d.current_url
    # two problems of near-equal weight: either may lead, and both are on top
    first = d.find_element(By.CSS_SELECTOR, "li.result.best")
    assert first.get_attribute("id") in ("r-P14", "r-P17"), first.text[:200]
    titles = {"r-P14": "运营有形网点成本高效益低", "r-P17": "信贷业务流程的繁琐耗时"}
    assert titles[first.get_attribute("id")] in first.find_element(By.TAG_NAME, "h2").text
    top2 = [e.get_attribute("id") for e in d.find_elements(By.CSS_SELECTOR, "li.result")[:2]]
    assert sorted(top2) == ["r-P14", "r-P17"], top2
    # the briefing is broken down clause by clause
    rows = d.find_elements(By.CSS_SELECTOR, "section.segments tbody tr")
    assert len(rows) >= 2
    assert any("P14" in row.text for row in rows)
    assert d.find_elements(By.CSS_SELECTOR, "li.result mark"), "matched terms are highlighted"
    # the search box kept what was typed
    assert d.find_element(By.ID, "q").get_attribute("value") == PROBLEM

    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    assert d.save_screenshot(str(SCREENSHOT))
    assert SCREENSHOT.stat().st_size > 10_000


def test_pain_point_page_and_back(server: str, browser) -> None:  # type: ignore[no-untyped-def]
    from selenium.webdriver.common.by import By

    d = browser
    d.get(server + "/technologies")
    cell = d.find_element(By.CSS_SELECTOR, 'svg.heatmap a[href="/p/P16"] rect')
    cell.click()
    assert d.current_url.endswith("/p/P16")
    assert "机构结算与清算领域的流程、时滞及成本" in d.find_element(By.TAG_NAME, "h1").text
    d.get(server + "/p/P99")
    assert "页面不存在" in d.find_element(By.TAG_NAME, "h1").text


#: One question per kind of typed answer, with the form the page must show it in.
ASK_PAGES = [
    ("painpoint", "第十四个痛点讲的是什么", "section.typed-painpoint", "P14"),
    ("compare", "P05和P12有什么区别？", "section.typed-compare table.compare-table", "P12"),
    ("risk", "系统性风险报告怎么说", "section.typed-risk ul.controls li", "系统性风险"),
    ("technology", "区块链有什么风险", "section.typed-technology", "区块链"),
    ("cooperation", "有哪几种合作模式", "section.typed-cooperation div.modes div.mode", "投贷联动"),
    ("case", "三步引流是哪三步", "section.typed-case ol.steps > li", "1449"),
]


@pytest.mark.parametrize("kind,q,css,word", ASK_PAGES, ids=[p[0] for p in ASK_PAGES])
def test_each_kind_of_typed_answer_in_its_own_form(server: str, browser, kind: str, q: str,  # type: ignore[no-untyped-def]
                                                   css: str, word: str) -> None:
    from urllib.parse import urlencode

    from selenium.webdriver.common.by import By

    d = browser
    d.get(server + "/search?" + urlencode({"q": q}))
    section = d.find_element(By.CSS_SELECTOR, "section.typed-answer")
    assert section.is_displayed() and word in section.text, section.text[:300]
    parts = d.find_elements(By.CSS_SELECTOR, css)
    assert parts, css
    if kind == "cooperation":  # the three modes side by side: one row, three columns
        assert len(parts) == 3
        assert len({round(p.location["y"]) for p in parts}) == 1
    if kind == "compare":  # two columns of pain points
        assert len(d.find_elements(By.CSS_SELECTOR, "table.compare-table thead th")) == 3
    if kind == "case":
        assert len(parts) == 3
    # the typed answer sits above the pain-point results
    results = d.find_elements(By.CSS_SELECTOR, "ol.results")
    if results:
        assert section.location["y"] < results[0].location["y"]
    shot = SCREENSHOT.parent / f"ask-{kind}.png"
    shot.parent.mkdir(parents=True, exist_ok=True)
    assert d.save_screenshot(str(shot))
    assert shot.stat().st_size > 10_000
