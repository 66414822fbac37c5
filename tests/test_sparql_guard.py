"""The query guard against a real canary HTTP server on loopback: no trick makes the server send it a request.

Each trick goes through the endpoint (GET, form POST, direct POST, served by uvicorn), the CLI ``sparql`` command,
and a seeded fuzz of comment, escape and whitespace variants. A control first shows that the canary does see
pyoxigraph's request when a query runs unguarded, so the tests can fail.
"""

from __future__ import annotations

import contextlib
import json
import random
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pyoxigraph
import pytest

from expgraph.sparql.guard import QueryRefused, check_query
from expgraph.store import EmbeddedStore
from query_fixtures import fill


class Canary:
    """An HTTP server that answers every request with an empty SPARQL result and remembers that it was asked."""

    def __init__(self) -> None:
        hits: list[str] = []

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                hits.append(self.path)
                body = json.dumps({"head": {"vars": ["s"]}, "results": {"bindings": [
                    {"s": {"type": "literal", "value": "internal secret"}}]}}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/sparql-results+json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = _answer

            def log_message(self, *args: object) -> None:
                pass

        self.hits = hits
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/internal"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def canary() -> Iterator[Canary]:
    server = Canary()
    yield server
    server.close()


@pytest.fixture(scope="module")
def endpoint(small_catalog_endpoint: str) -> str:
    """The app on a small in-memory catalog, served by uvicorn on loopback (one for the session: conftest.py)."""
    return small_catalog_endpoint


def tricks(url: str) -> list[str]:
    """Ways to write a SERVICE call (and other fetches) that a reader might not see as one."""
    service = f"SERVICE <{url}> {{ ?s ?p ?o }}"
    return [
        f"SELECT * WHERE {{ {service} }}",
        f"SELECT * WHERE {{ #x\r{service}\n}}",  # the review's bypass: rdflib's comment ran past the CR
        f"SELECT * WHERE {{ #x\r\n{service} }}",
        f"SELECT * WHERE {{ # a comment\n{service} }}",
        f"SELECT * WHERE {{ {service.lower()} }}",
        f"SELECT * WHERE {{ SeRvIcE <{url}> {{ ?s ?p ?o }} }}",
        f"SELECT * WHERE {{ SERVICE SILENT <{url}> {{ ?s ?p ?o }} }}",
        f"SELECT * WHERE {{ FILTER EXISTS {{ SERVICE SILENT <{url}> {{ ?s ?p ?o }} }} }}",
        f"SELECT * WHERE {{ ?a ?b ?c FILTER NOT EXISTS {{ #\r{service} }} }}",
        f"SELECT * WHERE {{ OPTIONAL {{ {{ {service} }} UNION {{ ?x ?y ?z }} }} }}",
        f"SELECT * WHERE {{ MINUS {{ {service} }} ?s ?p ?o }}",
        f"SELECT * WHERE {{ {{ SELECT * WHERE {{ {service} }} }} }}",
        f"ASK {{ GRAPH ?g {{ {service} }} }}",
        f"CONSTRUCT {{ ?s ?p ?o }} WHERE {{ {service} }}",
        f"DESCRIBE ?s WHERE {{ {service} }}",
        f"SELECT * WHERE {{ \\u0053ERVICE <{url}> {{ ?s ?p ?o }} }}",
        f"SELECT * WHERE {{ SERV\\u0049CE <{url}> {{ ?s ?p ?o }} }}",
        f"SELECT * WHERE {{ \\U00000053ERVICE <{url}> {{ ?s ?p ?o }} }}",
        f"SELECT * WHERE {{ SERVICE\\u0020<{url}> {{ ?s ?p ?o }} }}",
        f"SELECT * WHERE {{ SERVICE\t<{url}>{{?s ?p ?o}} }}",
        f"SELECT * WHERE {{SERVICE<{url}>{{?s ?p ?o}}}}",
        f"SELECT * WHERE {{ SERVICE\x0c<{url}> {{ ?s ?p ?o }} }}",
        f"SELECT * WHERE {{ SERVICE\u00a0<{url}> {{ ?s ?p ?o }} }}",
        f"SELECT * WHERE {{ SERVICE#\r<{url}> {{ ?s ?p ?o }} }}",
        f"SELECT * WHERE {{ ?s ?p true.SERVICE <{url}> {{ ?s ?p ?o }} }}",
        f"SELECT * WHERE {{ VALUES ?u {{ <{url}> }} SERVICE ?u {{ ?s ?p ?o }} }}",
        f"PREFIX c: <{url}> SELECT * WHERE {{ SERVICE c: {{ ?s ?p ?o }} }}",
        f"BASE <{url}> SELECT * WHERE {{ SERVICE <> {{ ?s ?p ?o }} }}",
        f"SELECT * WHERE {{ BIND('''x''' AS ?a) BIND(\"a\\\"#\" AS ?b) {service} }}",
        f"SELECT * WHERE {{ BIND(\"#\" AS ?a) #\"\r{service} }}",
        f"LOAD <{url}>",
        f"LOAD SILENT <{url}> INTO GRAPH <urn:x>",
        f"SELECT * WHERE {{ ?s ?p ?o }} ; LOAD <{url}>",
        f"SELECT * FROM <{url}> WHERE {{ ?s ?p ?o }}",
        f"SELECT * FROM NAMED <{url}> WHERE {{ GRAPH ?g {{ ?s ?p ?o }} }}",
    ]


def test_the_canary_sees_an_unguarded_service_call(canary):
    """The control: pyoxigraph itself does fetch SERVICE, so the canary would notice a guard letting one through."""
    before = len(canary.hits)
    list(pyoxigraph.Store().query(f"SELECT * WHERE {{ #x\r SERVICE <{canary.url}> {{ ?s ?p ?o }} }}"))
    assert len(canary.hits) == before + 1


@pytest.mark.parametrize("index", range(len(tricks("http://127.0.0.1:1/"))))
def test_every_trick_is_refused_by_the_guard(canary, index):
    """FROM is let through the guard, to be refused by the runner, which knows the store's graphs (below)."""
    query = tricks(canary.url)[index]
    if " FROM " in query:
        assert check_query(query).from_graphs + check_query(query).from_named == (canary.url,)
        return
    with pytest.raises(QueryRefused):
        check_query(query)


@pytest.mark.parametrize("method", ["get", "form", "direct"])
def test_no_trick_reaches_the_canary_through_the_endpoint(canary, endpoint, method):
    before = len(canary.hits)
    for query in tricks(canary.url):
        if method == "get":
            response = httpx.get(endpoint, params={"query": query}, timeout=60)
        elif method == "form":
            response = httpx.post(endpoint, data={"query": query}, timeout=60)
        else:
            response = httpx.post(endpoint, content=query.encode(), timeout=60,
                                  headers={"Content-Type": "application/sparql-query"})
        assert response.status_code in (400, 403), (query, response.status_code, response.text)
        assert "internal secret" not in response.text
    assert canary.hits[before:] == []


def test_no_trick_reaches_the_canary_through_the_cli(canary, cli, tmp_path):
    fill(EmbeddedStore(tmp_path / "cli-store")).close()  # where the cli fixture points: a store that exists
    before = len(canary.hits)
    for query in tricks(canary.url):
        code, out, _err = cli("sparql", "--no-prefixes", query)
        assert "internal secret" not in out, query
        assert code != 0 or " FROM " in query, query  # FROM names a graph; the store never fetches one
    assert canary.hits[before:] == []


#: Separators pyoxigraph takes as whitespace (comments end at CR or LF), and ones it does not.
_SEPARATORS = [" ", "\t", "\r", "\n", "\r\n", "#c\r", "#c\n", "# } \r", "#\r\n", "\t#x\r "]
_ODD_SEPARATORS = ["\x0c", "\x0b", "\u00a0", "\u2028", "\\u0020", "\\u000D", "\\u000A", "", "/**/", "\\t"]


def _variant(rng: random.Random, url: str) -> str:
    """A SERVICE call with random separators, letter case and codepoint escapes, in a random place."""
    word = "".join(c.lower() if rng.random() < 0.3 else c for c in "SERVICE")
    word = "".join(f"\\u{ord(c):04X}" if rng.random() < 0.03 else c for c in word)
    silent = rng.choice(["", "", "SILENT", "silent", "\\u0053ILENT"])
    sep = lambda: rng.choice(_SEPARATORS if rng.random() < 0.85 else _ODD_SEPARATORS)  # noqa: E731
    call = f"{word}{sep()}{silent}{sep()}<{url}>{sep()}{{ ?s ?p ?o }}"
    wrapper = rng.choice(["{call}", "OPTIONAL {{ {call} }}", "FILTER EXISTS {{ {call} }}", "{{ {call} }} UNION {{}}",
                          "MINUS {{ {call} }}", "{{ SELECT * {{ {call} }} }}"])
    return f"SELECT *{sep()}WHERE {{{sep()}{wrapper.format(call=call)}{sep()}}}"


def test_fuzzed_service_calls_never_reach_the_canary(canary):
    """Run each variant unguarded on a control canary and through the guard on the canary: many variants really
    call out when unguarded; through the guard, none does."""
    control = Canary()
    before_all = len(canary.hits)
    rng = random.Random(20261203)
    store = pyoxigraph.Store()
    called_unguarded = passed_guard = 0
    try:
        for _ in range(400):
            query = _variant(rng, canary.url)
            before = len(control.hits)
            with contextlib.suppress(SyntaxError, OSError):
                list(store.query(query.replace(canary.url, control.url)))
            called_unguarded += len(control.hits) > before
            try:
                checked = check_query(query)
            except QueryRefused:
                continue
            passed_guard += 1
            with contextlib.suppress(SyntaxError, OSError):
                list(store.query(checked.text))
    finally:
        control.close()
    assert called_unguarded >= 40  # the fuzz does produce working SERVICE calls
    leaked = canary.hits[before_all:]
    assert leaked == [], f"{len(leaked)} requests reached the canary ({passed_guard} variants passed the guard)"
