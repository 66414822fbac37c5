"""The run list's metric columns and value filter in headless Chromium: the plain form (no script) narrows the
list, and the CSV download holds the rows and values the table shows."""

from __future__ import annotations

import csv
import io

import pytest

from test_web_browser import browser, chromium_path, page, server  # noqa: F401 (fixtures)
from test_web_charts_browser import shoot

pytestmark = pytest.mark.browser


def table(tab) -> list[dict[str, str]]:
    """The run table's rows as name -> the cells' text, keyed by column header (value columns by their key)."""
    rows = []
    for row in tab.locator("table.list tbody tr").all():
        cells = {"name": row.locator("td").nth(1).inner_text().strip()}
        for cell in row.locator("td[data-column]").all():
            cells[cell.get_attribute("data-column")] = cell.inner_text().strip()
        rows.append(cells)
    return rows


def test_a_metric_filter_narrows_the_list_and_the_csv_matches(page, server) -> None:  # noqa: F811
    page.goto(server + "/runs")
    assert len(table(page)) == 5
    page.locator("form.value-columns summary").click()
    page.get_by_label("loss", exact=False).first.check()  # the metric "loss" in the picker
    page.get_by_label("Filter 1").fill("loss < 0.52")
    page.get_by_role("button", name="Apply").click()
    page.wait_for_url("**where=loss*")
    rows = table(page)
    assert sorted(row["name"] for row in rows) == ["run r1", "run r3"]  # 0.51 and 0.501; 0.55, NaN, none left out
    assert all(float(row["metric:loss"]) < 0.52 for row in rows)
    assert page.get_by_label("Filter 1").input_value() == "metric:loss < 0.52"
    header = page.locator("th.value-col[data-column='metric:loss'] a")
    header.click()  # sort by the column (descending first)
    page.wait_for_url("**sort=-metric*")
    rows = table(page)
    assert [row["name"] for row in rows] == ["run r1", "run r3"]
    href = page.locator("p.downloads a", has_text="CSV").get_attribute("href")
    response = page.request.get(server + href)
    assert response.ok and response.headers["content-type"].startswith("text/csv")
    records = list(csv.DictReader(io.StringIO(response.text())))
    assert [r["name"] for r in records] == [row["name"] for row in rows]
    assert [float(r["metric:loss"]) for r in records] == [float(row["metric:loss"]) for row in rows]
    assert page.errors == []
    shoot(page.locator("main"), "run-list-columns.png")
