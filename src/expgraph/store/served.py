"""A store held by a running ``expgraph serve``: queries go through its ``/sparql``, writes through its API.

This is what every command uses when the server owns the store (found by ``server.json`` in the store directory,
or given as ``--endpoint`` of an expgraph server). The server keeps the registry and applies every write with
its own stage-and-swap, so the primitives that would touch the store's internals here refuse. A new graph version
is uploaded in one streamed request (N-Quads: the content as triples, the import's own record in the audit
graph); the server answers only once it has applied it, and a client that dies mid-upload changes nothing.
"""

from __future__ import annotations

import sys
import threading
import uuid
from collections.abc import Iterable, Iterator, Mapping

import httpx
from pyoxigraph import NamedNode, Triple

from expgraph.store.base import AUDIT, GraphInfo, QueryResult, Store, StoreError, Term, sparql_term
from expgraph.store.remote import ACCEPT, RemoteStore, bind_values, parse_answer
from expgraph.store.scope import EVERYTHING, GraphScope

_CHUNK = 1 << 18


class ServedStore(Store):
    """The catalog as an expgraph server serves it, at ``url`` (``http://host:port``), with an optional token."""

    native_substitutions = False
    served = True  # the server prepares its own ontology and vocabularies, and validates on its side
    patchable = False

    def __init__(self, url: str, token: str | None = None, *, timeout: float = 300.0,
                 connect_timeout: float = 10.0) -> None:
        self.url = url.rstrip("/")
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._client = httpx.Client(headers=headers, timeout=httpx.Timeout(timeout, connect=connect_timeout))

    @property
    def location(self) -> str:
        return f"{self.url} (expgraph server)"

    def close(self) -> None:
        self._client.close()

    # -- reads ----------------------------------------------------------------------------------------------------

    def active_graphs(self) -> dict[str, GraphInfo]:
        listed = self._send("GET", "/api/v1/graphs").json()
        return {g["name"]: GraphInfo(NamedNode(g["name"]), NamedNode(g["version"]), g["digest"], int(g["triples"]),
                                     g["modified"], g.get("source_digest")) for g in listed}

    def scoped(self, sparql: str, scope: GraphScope = EVERYTHING) -> str:
        return sparql  # the server maps logical graph names itself (and applies its own scope)

    def generation(self) -> tuple[str, ...]:
        return tuple(sorted(f"{g.version.value} {g.digest} {g.modified}" for g in self.active_graphs().values()))

    def _query_active(self, sparql: str, physical: list[NamedNode], bindings: Mapping[str, Term]) -> QueryResult:
        return self._sparql(sparql, None, None, bindings)

    def _query(self, sparql: str, *, default_graphs: list[NamedNode], named_graphs: list[NamedNode],
               bindings: Mapping[str, Term]) -> QueryResult:
        return self._sparql(sparql, default_graphs, named_graphs, bindings)

    def _sparql(self, sparql: str, default_graphs: list[NamedNode] | None, named_graphs: list[NamedNode] | None,
                bindings: Mapping[str, Term]) -> QueryResult:
        form: dict[str, object] = {"query": bind_values(sparql, bindings) if bindings else sparql}
        if default_graphs is not None or named_graphs is not None:
            form["default-graph-uri"] = [g.value for g in default_graphs or ()]
            form["named-graph-uri"] = [g.value for g in named_graphs or ()]
        response = self._send("POST", "/sparql", data=form, headers={"Accept": ACCEPT})
        if "x-expgraph-truncated" in response.headers:
            print(f"warning: {self.url}: {response.headers['x-expgraph-truncated']} (the server's limit)",
                  file=sys.stderr)
        return parse_answer(response, f"{self.url}/sparql")

    def _triples(self, graph: NamedNode) -> Iterator[Triple]:
        result = self._sparql(f"CONSTRUCT {{ ?s ?p ?o }} WHERE {{ GRAPH {sparql_term(graph)} {{ ?s ?p ?o }} }}",
                              None, None, {})
        yield from result  # type: ignore[misc]

    # -- writes: through the API ------------------------------------------------------------------------------------

    def replace_graph(self, name: NamedNode, triples: Iterable[Triple], *, digest: str | None = None,
                      audit: Iterable[Triple] = ()) -> bool:
        current = self.active_graphs().get(name.value)
        if digest is not None and current is not None and current.digest == digest:
            return False  # unchanged: nothing sent
        return self._upload(name, (f"{t}" for t in triples), audit, digest=digest)

    def replace_statements(self, name: NamedNode, statements: Iterable[str], *, audit: Iterable[Triple] = (),
                           checked: bool = False, source_digest: str | None = None) -> bool:
        return self._upload(name, statements, audit, source_digest=source_digest)

    def _upload(self, name: NamedNode, statements: Iterable[str], audit: Iterable[Triple], *,
                digest: str | None = None, source_digest: str | None = None) -> bool:
        headers = {"Content-Type": "application/n-quads"}
        if digest:
            headers["X-Expgraph-Digest"] = digest
        if source_digest:
            headers["X-Expgraph-Source-Digest"] = source_digest
        headers["X-Expgraph-Write-Id"] = write_id = uuid.uuid4().hex
        body = upload_body(statements, list(audit))
        done = threading.Event()
        watcher = threading.Thread(target=self._report_wait, args=(write_id, done), daemon=True)
        watcher.start()
        try:
            answer = self._send("PUT", "/api/v1/graphs", params={"graph": name.value}, content=body, headers=headers)
        finally:
            done.set()
            watcher.join()
        return bool(answer.json()["changed"])

    def _report_wait(self, write_id: str, done: threading.Event, every: float = 2.0) -> None:
        """While an upload is applied, say on stderr when it waits behind other writes (and whose)."""
        said = None
        while not done.wait(every):
            try:
                listed = self._client.get(self.url + "/api/v1/writes").json()
            except (httpx.HTTPError, ValueError):
                continue
            mine = next((w for w in listed if w.get("id") == write_id), None)
            if mine is None:
                continue  # still uploading, or finished
            ahead = [w for w in listed if w.get("state") == "applying"]
            if mine["state"] == "waiting" and ahead:
                first = ahead[0]
                message = (f"waiting for the server: {first['agent']} is applying a {first['action']} of "
                           f"<{first['target']}> ({first['seconds']} s so far)")
            else:
                message = "the server is applying the upload"
            if message.split(" (")[0] != (said or "").split(" (")[0]:
                print(message, file=sys.stderr, flush=True)
                said = message

    def drop(self, name: NamedNode) -> bool:
        raise StoreError("removing a graph through the server is not offered by its API")

    def sweep(self, name: NamedNode | None = None) -> list[NamedNode]:
        return []  # the server sweeps its own leftovers

    def _update(self, sparql: str) -> None:
        raise StoreError("a served store is written through the server's API only")

    def _write_graph(self, graph: NamedNode, triples: Iterable[Triple]) -> None:
        raise StoreError("a served store is written through the server's API only")

    def _drop_graph(self, graph: NamedNode) -> None:
        raise StoreError("a served store is written through the server's API only")

    # -- HTTP -------------------------------------------------------------------------------------------------------

    def api(self, method: str, path: str, **kwargs: object) -> httpx.Response:
        """A request to the server's API, its refusals as one-line :class:`StoreError` s."""
        return self._send(method, path, **kwargs)

    def _send(self, method: str, path: str, **kwargs: object) -> httpx.Response:
        try:
            response = self._client.request(method, self.url + path, **kwargs)  # type: ignore[arg-type]
        except httpx.TimeoutException:
            raise StoreError(f"the expgraph server at {self.url} did not answer in time") from None
        except httpx.HTTPError as error:
            raise StoreError(f"cannot reach the expgraph server at {self.url} ({error}); is it running?") from None
        if response.status_code >= 400:
            raise StoreError(f"{self.url}{path}: HTTP {response.status_code}: {_detail(response)}")
        return response


def _detail(response: httpx.Response) -> str:
    try:
        detail = response.json().get("detail")
        if isinstance(detail, str):
            return detail
    except ValueError:
        pass
    lines = response.text.strip().splitlines()
    return lines[0][:300] if lines else response.reason_phrase


def upload_body(statements: Iterable[str], audit: list[Triple]) -> Iterator[bytes]:
    """N-Quads in chunks: the content as triples, then the import's record in the audit graph."""
    graph = sparql_term(AUDIT)
    lines: list[str] = []
    size = 0
    for statement in statements:
        lines.append(statement + " .\n")
        size += len(statement) + 3
        if size >= _CHUNK:
            yield "".join(lines).encode()
            lines, size = [], 0
    lines += [f"{t.subject} {t.predicate} {t.object} {graph} .\n" for t in audit]
    if lines:
        yield "".join(lines).encode()



def find_server(location: str, endpoint: str | None, token: str | None, timeout: float) -> ServedStore | None:
    """The served store a command should go through: ``endpoint`` when it is an expgraph server (else None: a
    plain SPARQL server), or without one the live server holding the store at ``location``."""
    from expgraph.team.discovery import is_expgraph, running_server

    if endpoint:
        url = endpoint.partition("#")[0].rstrip("/").removesuffix("/sparql")
        try:
            found = is_expgraph(url, timeout)
        except httpx.TimeoutException:  # report it now, in the remote store's words, rather than wait again
            raise RemoteStore(endpoint, connect_timeout=timeout).unanswered() from None
        return ServedStore(url, token, connect_timeout=timeout) if found else None
    url = running_server(location, timeout)
    return ServedStore(url, token, connect_timeout=timeout) if url else None
