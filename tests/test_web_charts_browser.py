"""The research pages in headless Chromium: metric charts on the run and compare pages (drawn by the vendored uPlot
from /charts/runs), the compare page's fit at 1280 px, and the SPARQL editor's completion."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlencode

import pytest

from test_web_browser import browser, chromium_path, page, server  # noqa: F401 (fixtures)
from web_data import iri

pytestmark = pytest.mark.browser
R1, R2, R3, R4 = (iri("run", f"r{i}") for i in range(1, 5))
SHOTS = Path(__file__).resolve().parent.parent / "docs" / "screenshots"


def shoot(target, name: str, **options) -> None:
    """The docs' screenshots, written only when asked (``EXPGRAPH_SCREENSHOTS=1``): a test run leaves docs/ alone."""
    if os.environ.get("EXPGRAPH_SCREENSHOTS") == "1":
        target.screenshot(path=str(SHOTS / name), **options)


def charts(tab, count: int):
    """The metric charts once charts.js has drawn ``count`` of them."""
    tab.wait_for_selector(f"[data-chart-runs][data-charts='{count}']", timeout=20000)
    return tab.locator("figure.metric-chart")


def test_run_page_draws_each_history_as_a_chart(page, server) -> None:  # noqa: F811
    page.goto(server + "/id/" + R1.split("/id/", 1)[1])
    figures = charts(page, 1)
    loss = figures.first
    assert loss.get_attribute("data-metric") == "loss"
    assert loss.get_attribute("data-series") == "1" and loss.get_attribute("data-points") == "100"
    assert loss.locator("canvas").count() == 1
    assert "NaN at step 50" in loss.locator("p.specials").inner_text()
    assert "100 values" in loss.locator("figcaption").inner_text()
    loss.locator("input.chart-log").check()
    assert loss.get_attribute("data-log") == "yes" and loss.locator("canvas").count() == 1
    loss.locator("select.chart-axis").select_option("time")
    assert loss.get_attribute("data-axis") == "time"
    assert page.errors == []  # a CSP violation would be a console error
    shoot(loss, "run-chart.png")


def test_a_run_without_histories_says_so(page, server) -> None:  # noqa: F811
    page.goto(server + "/id/" + R2.split("/id/", 1)[1])
    page.wait_for_selector("[data-chart-runs][data-charts='0']", timeout=20000)
    assert "No metric histories" in page.locator(".charts").inner_text()
    assert page.errors == []


def compare_url(base: str, *runs: str) -> str:
    return base + "/compare?" + urlencode([("run", r) for r in runs])


def test_compare_overlays_each_runs_curve(page, server) -> None:  # noqa: F811
    page.goto(compare_url(server, R1, R2, R3, R4))
    loss = charts(page, 1).first
    assert loss.get_attribute("data-series") == "3"  # r2 logged no history: three curves
    assert loss.get_attribute("data-points") == "300"
    assert loss.locator(".u-legend .u-series").count() == 4  # uPlot's legend: the x axis and one per run
    loss.locator("select.chart-axis").select_option("elapsed")
    assert loss.get_attribute("data-axis") == "elapsed"
    assert page.errors == []


def fits(tab) -> bool:
    return tab.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_compare_fits_1280_px_and_scrolls_inside_the_table(page, server) -> None:  # noqa: F811
    page.goto(compare_url(server, R1, R2, R3, R4))
    charts(page, 1)
    assert fits(page)
    shoot(page, "compare.png", full_page=True)
    page.set_viewport_size({"width": 700, "height": 900})
    page.reload()
    charts(page, 1)
    assert fits(page)  # the page itself never scrolls sideways
    box = page.locator(".compare-params .compare-scroll")
    assert box.evaluate("b => b.scrollWidth > b.clientWidth")  # the table does, inside its box
    first = page.locator("table.compare-grid.params tbody th.sticky").first
    before = first.bounding_box()["x"]
    box.evaluate("b => { b.scrollLeft = b.scrollWidth; }")
    assert first.bounding_box()["x"] == before  # the names' column stays put


def editor(tab):
    tab.wait_for_selector("form[data-editor-terms]", timeout=20000)
    return tab.locator(".CodeMirror")


def write(tab, text: str) -> None:
    """Replace the editor's text and put the cursor at its end, ready for typing."""
    tab.evaluate("""text => { const cm = document.querySelector('.CodeMirror').CodeMirror;
                              cm.setValue(text); cm.focus(); cm.setCursor(cm.lineCount(), 0); }""", text)


def editor_text(tab) -> str:
    return tab.evaluate("document.querySelector('.CodeMirror').CodeMirror.getValue()")


def test_the_editor_completes_a_term_and_adds_its_prefix(page, server) -> None:  # noqa: F811
    page.goto(server + "/sparql", wait_until="load")
    box = editor(page)
    assert box.locator(".cm-keyword").count() > 0  # highlighted
    write(page, "PREFIX eg: <https://w3id.org/expgraph#>\nSELECT ?run WHERE {\n  ?run a eg:Run ; ")
    page.keyboard.type("prov:startedA")
    hints = page.locator(".CodeMirror-hints li")
    hints.first.wait_for(timeout=10000)
    assert hints.first.inner_text().startswith("prov:startedAtTime")
    area = box.bounding_box()
    shoot(page, "sparql-editor.png", clip={"x": area["x"], "y": area["y"], "width": 760, "height": 330})
    page.keyboard.press("Enter")
    text = editor_text(page)
    assert text.startswith("PREFIX prov: <http://www.w3.org/ns/prov#>\n")  # the prefix it needs, declared
    assert "?run a eg:Run ; prov:startedAtTime" in text
    page.keyboard.type(" ?t }")
    page.get_by_role("button", name="Run").click()
    page.wait_for_url("**/sparql?query=*")  # the query is in the address: the result can be shared
    assert page.locator("table.results tbody tr").count() == 5
    assert editor_text(page).startswith("PREFIX prov:")
    assert page.errors == []


def test_the_editor_completes_a_prefix_declaration(page, server) -> None:  # noqa: F811
    page.goto(server + "/sparql", wait_until="load")
    editor(page)
    write(page, "")
    page.keyboard.type("PREFIX dca")
    hints = page.locator(".CodeMirror-hints li")
    hints.first.wait_for(timeout=10000)
    assert hints.all_inner_texts() == ["dcat: <http://www.w3.org/ns/dcat#>"]
    page.keyboard.press("Enter")
    assert editor_text(page) == "PREFIX dcat: <http://www.w3.org/ns/dcat#>"


def test_the_dashboard_draws_a_cell_per_mode_and_month(page, server) -> None:  # noqa: F811
    page.goto(server + "/")
    page.get_by_role("link", name="Dashboard").click()
    page.wait_for_url("**/dashboard")
    heatmap = page.locator("svg.heatmap")
    assert heatmap.locator("g.mode").count() == 2  # out of memory, data loader stall
    assert heatmap.locator("rect.cell").count() == 2 * 1  # two modes, one month
    assert page.locator("section.by-dataset").get_by_text("40%").is_visible()
    assert fits(page) and page.errors == []
