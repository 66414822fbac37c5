"""The negative-result page in headless Chromium: concepts, runs and informed experiments are links a reader
follows (and the run's page links back), the page fits 1280 px, and no script or style breaks the CSP."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from expgraph.catalog import prepare, run_import
from expgraph.importers.records import RecordsImporter
from expgraph.mapping import Minter
from expgraph.store import EmbeddedStore
from test_result_page import RECORD
from test_web_browser import browser, chromium_path, page, serving  # noqa: F401 (fixtures)
from test_web_charts_browser import fits, shoot
from web_data import build, iri

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[tuple[str, str]]:
    """The web test catalog plus a hand-written record about run r1 (and a run not imported); (URL, its IRI)."""
    path: Path = tmp_path_factory.mktemp("records") / "notebook.yaml"
    path.write_text(RECORD)
    store = build(prepare(EmbeddedStore()))
    importer = RecordsImporter(str(path))
    run_import(store, importer)
    with serving(store) as url:
        yield url, Minter("records", importer.identity()).result("no-gain-at-lr-0.01").value


def local(url: str, iri_value: str) -> str:
    return url + "/id/" + iri_value.split("/id/", 1)[1]


def test_the_negative_result_page_links_what_it_names(page, server) -> None:  # noqa: F811
    url, record = server
    page.goto(local(url, record))
    assert page.locator("h1").inner_text().startswith("A smaller learning rate gave no gain")
    assert page.locator("dd.hypothesis").inner_text() == "lr 0.01 beats lr 0.1 on accuracy"
    assert page.locator("dd.expected").inner_text() == "accuracy +1 point"
    assert page.locator("dd.observed").inner_text() == "within noise"
    assert page.locator("section.lessons li").count() == 2
    runs = page.locator("section.about-runs tbody tr")
    assert runs.count() == 1
    assert runs.first.get_by_role("link", name="run r1").is_visible()
    assert runs.first.locator(".status").inner_text() == "finished"
    assert "mlflow:not-imported" in page.locator("p.missing-runs").inner_text()
    assert fits(page) and page.errors == []
    shoot(page, "negative-result.png")
    page.locator("dd.failure-mode").get_by_role("link", name="no significant effect").click()
    page.wait_for_url(lambda to: "no-significant-effect" in to)  # /resource?iri=... (not minted here)
    assert page.locator("h1").inner_text().startswith("no significant effect")


def test_a_failed_run_s_result_leads_to_the_run_and_back(page, server) -> None:  # noqa: F811
    url, _ = server
    page.goto(local(url, iri("result", "nr-r2")))
    assert page.locator("dd.failure-mode a").first.inner_text() == "out of memory"
    assert page.locator("section.informs").get_by_role("link", name="smaller batches").is_visible()
    page.locator("section.about-runs").get_by_role("link", name="run r2").click()
    page.wait_for_url("**/run/r2")
    page.get_by_role("link", name="r2 ran out of GPU memory").first.click()
    page.wait_for_url("**/result/nr-r2")
    assert page.errors == []
