"""Every same-origin link of the catalog leads somewhere: a breadth-first crawl of the demo catalog plus resources
with hostile names, following ``<a href>``, ``<link rel="alternate">`` and GET form actions, expects no 4xx/5xx.

List pages multiply into thousands of URLs (every facet value times every sort and page), so URLs are grouped by
shape (path pattern and parameter names) and a few of each shape are visited; every URL of a hostile-named
resource and every ``/resource?iri=`` link to a minted IRI (the links made for IRIs a URL path cannot carry) is
visited whatever its shape.
"""

from __future__ import annotations

import re
import shutil
import time
from collections import Counter, deque
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import parse_qs, unquote, urljoin, urlsplit

import pyoxigraph
import pytest
from fastapi.testclient import TestClient
from pyoxigraph import NamedNode, RdfFormat

from expgraph.catalog import store_batch
from expgraph.mapping import DEFAULT_BASE, Minter, segment, source_key
from expgraph.records import Experiment, ImportBatch, Project, Result, Run, RunStatus
from expgraph.settings import load_settings
from expgraph.store import EmbeddedStore
from expgraph.web.app import create_app
from expgraph.web.render import resource_url

#: Names that break naive URL building: dot segments, reserved and escaped characters, spaces, unicode.
HOSTILE = [".", "..", "...", "a/b", "a/../b", "%2F", "%", "?x", "#y", "x&y=z", "a b", "ünï 名前", "trail/", "/lead"]
HOSTILE_SOURCE = "/data/hostile-names"
HOSTILE_KEY = source_key("records", HOSTILE_SOURCE)
HOSTILE_PROJECTS = [".", "a/b", "?p"]
#: Visits per URL shape (see the module doc), and a bound on the whole crawl.
PER_SHAPE = 1
MAX_PAGES = 1500
FORMATS = {"text/turtle": RdfFormat.TURTLE, "application/n-triples": RdfFormat.N_TRIPLES,
           "application/ld+json": RdfFormat.JSON_LD}


def hostile_batch() -> ImportBatch:
    experiments = tuple(Experiment(name, f"experiment {name}", project=HOSTILE_PROJECTS[i % len(HOSTILE_PROJECTS)])
                        for i, name in enumerate(HOSTILE))
    runs = tuple(Run(name, name, RunStatus.FAILED if i % 2 else RunStatus.FINISHED, name=f"run {name}")
                 for i, name in enumerate(HOSTILE))
    results = (Result("..", "execution-failure", negative=True, title="a result named ..", runs=("..",),
                      experiment_id=".", failure_mode="out-of-memory"),)
    return ImportBatch("records", HOSTILE_SOURCE, projects=tuple(Project(p) for p in HOSTILE_PROJECTS),
                       experiments=experiments, runs=runs, results=results)


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory, demo_catalog: tuple[Path, dict]) -> Iterator[TestClient]:
    built, report = demo_catalog  # the demo catalog, built once for the session (tests/conftest.py): a copy
    store = EmbeddedStore(shutil.copytree(built, tmp_path_factory.mktemp("crawl") / "store"))
    assert report["counts"]["runs"] > 0, report
    store_batch(store, hostile_batch(), location=HOSTILE_SOURCE)
    with TestClient(create_app(store, load_settings(environ={}))) as test_client:
        yield test_client
    store.close()


class Links(HTMLParser):
    """The same-origin candidates of one page: anchors, alternate links and GET form actions."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.alternates: list[tuple[str, str]] = []  # (type, href)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "a" and a.get("href"):
            self.links.append(a["href"])
        elif tag == "link" and a.get("rel") == "alternate" and a.get("href"):
            self.links.append(a["href"])
            self.alternates.append((a.get("type") or "", a["href"]))
        elif tag == "form" and (a.get("method") or "get").lower() == "get":
            self.links.append(a.get("action") or "")


def always_visited(url: str) -> bool:
    """A page (or RDF form) of a hostile-named resource, or any ``/resource?iri=`` link to a minted IRI."""
    split = urlsplit(url)
    if split.path.startswith("/id/"):
        text = unquote(split.path)
        return HOSTILE_KEY in text or any(f"/project/{segment(p)}" in split.path for p in HOSTILE_PROJECTS)
    return split.path == "/resource" and any(v.startswith(DEFAULT_BASE) for v in parse_qs(split.query).get("iri", []))


_SOURCE_KEY = re.compile(r"[0-9a-f]{16}")


def shape(url: str) -> tuple:
    """What a URL is an instance of: ``/id/`` paths by their kind (the segments before the resource's own name,
    source keys included), list and query URLs by their parameter names (a combination of several by its size)."""
    split = urlsplit(url)
    parts = split.path.split("/")
    if split.path.startswith("/id/"):
        keep = 5 if len(parts) > 5 and _SOURCE_KEY.fullmatch(parts[3]) else 3
        return (*parts[:keep], len(parts), Path(parts[-1]).suffix)
    names = sorted(parse_qs(split.query, keep_blank_values=True))
    return (split.path, *names) if len(names) <= 1 else (split.path, len(names))


def crawl(client: TestClient, start: str = "/") -> tuple[dict[str, int], int]:
    """Status of every visited URL (breadth first, same origin, redirects followed), and how many URLs were left
    unvisited when the crawl reached its bound."""
    statuses: dict[str, int] = {}
    queued, queue, per_shape = {start}, deque([start]), Counter()
    while queue and len(statuses) < MAX_PAGES:
        url = queue.popleft()
        response = client.get(url, headers={"accept": "text/html"})
        statuses[url] = response.status_code
        if not response.headers.get("content-type", "").startswith("text/html"):
            continue
        parser = Links()
        parser.feed(response.text)
        for link in parser.links:
            target = urlsplit(urljoin(f"http://testserver{url}", link))
            if target.scheme != "http" or target.netloc != "testserver":
                continue  # another origin, or data:, mailto:, javascript:
            local = target.path + (f"?{target.query}" if target.query else "")
            if local in queued:
                continue
            queued.add(local)
            if always_visited(local) or per_shape[shape(local)] < PER_SHAPE:
                per_shape[shape(local)] += 1
                queue.append(local)
    return statuses, len(queue)


def test_every_link_of_the_catalog_answers(client: TestClient) -> None:
    started = time.monotonic()
    statuses, left = crawl(client)
    broken = sorted((status, url) for url, status in statuses.items() if status >= 400)
    assert not broken, broken
    assert not left, f"the crawl stopped at {MAX_PAGES} URLs with {left} to go"
    mint = Minter("records", HOSTILE_SOURCE)
    hostile = [resource_url(DEFAULT_BASE, mint.local(kind, name).value) for kind in ("experiment", "run")
               for name in HOSTILE] + [resource_url(DEFAULT_BASE, mint.shared("project", p).value)
                                       for p in HOSTILE_PROJECTS]
    missed = [url for url in hostile if url not in statuses]
    assert not missed, f"hostile-named pages no link led to: {missed}"
    print(f"crawled {len(statuses)} URLs in {time.monotonic() - started:.1f} s")


@pytest.mark.parametrize("name", HOSTILE)
def test_a_hostile_named_experiment_links_to_its_own_page(client: TestClient, name: str) -> None:
    iri = Minter("records", HOSTILE_SOURCE).experiment(name).value
    url = resource_url(DEFAULT_BASE, iri)
    page = client.get(url, headers={"accept": "application/json"})
    assert page.status_code == 200 and page.json()["iri"] == iri  # this resource, not a neighbour
    parser = Links()
    parser.feed(client.get(url, headers={"accept": "text/html"}).text)
    assert len(parser.alternates) == 3, parser.alternates
    for media, link in parser.alternates:
        rdf = client.get(link)
        assert rdf.status_code == 200 and rdf.headers["content-type"].split(";")[0] == media, link
        subjects = {quad.subject for quad in pyoxigraph.parse(rdf.content, FORMATS[media], base_iri=DEFAULT_BASE)}
        assert NamedNode(iri) in subjects, link
