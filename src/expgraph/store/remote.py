"""The remote store: any SPARQL 1.1 server, through the SPARQL Protocol, SPARQL Update and the Graph Store Protocol.

The endpoint is given as a base URL, laid out like the Oxigraph server (``BASE/query``, ``BASE/update``,
``BASE/store``). Other layouts name their paths, relative to the base, in the URL's fragment (which never leaves
this machine)::

    http://127.0.0.1:7878                               Oxigraph server (or the same URL ending in /query)
    http://localhost:3030/ds#query=sparql&store=data    Apache Jena Fuseki: /ds/sparql, /ds/update, /ds/data
    http://localhost:8890/sparql                        Virtuoso (recognised by its answers; or #server=virtuoso)

Each server's conventions (paths, time limits, how it says an answer is incomplete) are a profile of
:mod:`expgraph.store.servers`, named by ``server=NAME`` in the fragment or recognised from the server's first answer.

New versions are uploaded with one streamed Graph Store Protocol PUT each. With the Oxigraph layout (no ``store=``
given) the upload asks for Oxigraph's non-transactional bulk load (``no_transaction``: 3-4x faster), which is safe
because a version is invisible to queries until it is swapped in, and a failed upload is discarded.

All requests go through one httpx client (kept-alive connections, streamed uploads and downloads, one place that
turns HTTP failures into :class:`StoreError`). Results are parsed by pyoxigraph, so ``query()`` returns the same
result types as the embedded store.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from urllib.parse import parse_qsl, urljoin

import httpx
import pyoxigraph
from pyoxigraph import BlankNode, NamedNode, RdfFormat, Triple

from expgraph.formats import GRAPH, RESULTS, by_media_type
from expgraph.namespaces import GRAPHS
from expgraph.store import servers
from expgraph.store.base import QueryResult, Store, StoreError, Term, sparql_term
from expgraph.store.servers import ServerProfile

#: A graph that never exists: the default graph of a query over no graphs (not the server's own default graph).
_NO_GRAPH = GRAPHS + "none"
_PATHS = ("query", "update", "store")
_VARIABLE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
#: What the stores ask a SPARQL server for: results as JSON, graphs as N-Triples (or Turtle).
ACCEPT = "application/sparql-results+json, application/n-triples;q=0.9, text/turtle;q=0.8"
#: Seconds a server is given past a query's time limit to send what it has (Virtuoso's "anytime" answer).
_ANSWER_GRACE = 2.0
#: Bytes of N-Triples gathered before each chunk of a streamed upload.
_CHUNK = 1 << 18


def endpoint_urls(endpoint: str, profile: ServerProfile | None = None) -> tuple[str, str, str]:
    """The query, update and Graph Store Protocol URLs of an endpoint given as described in the module doc (laid
    out as ``profile`` says, when the fragment names no server)."""
    url = endpoint.partition("#")[0]
    if not re.match(r"^https?://[^/?#]+", url):
        raise StoreError(f"endpoint {endpoint!r} is not an http(s) URL")
    paths = _fragment(endpoint)
    profile = named_profile(endpoint) or profile or servers.DEFAULT
    base = url.rstrip("/")
    for suffix in profile.query_suffixes:
        if base.endswith("/" + suffix):
            base = base.removesuffix("/" + suffix)
            break
    query, update, store = (urljoin(base + "/", paths.get(key, getattr(profile, key))) for key in _PATHS)
    return query, update, store


def named_profile(endpoint: str) -> ServerProfile | None:
    """The profile named by ``server=NAME`` in the endpoint's fragment, if any."""
    name = _fragment(endpoint).get("server")
    return None if name is None else servers.profile_named(name, endpoint)


def _fragment(endpoint: str) -> dict[str, str]:
    fragment = endpoint.partition("#")[2]
    try:
        paths = dict(parse_qsl(fragment, strict_parsing=bool(fragment)))
    except ValueError:
        raise StoreError(f"endpoint {endpoint!r}: the part after # must be like query=PATH&update=PATH") from None
    unknown = sorted(set(paths) - {*_PATHS, "server"})
    if unknown:
        raise StoreError(f"endpoint {endpoint!r}: unknown path {unknown[0]!r} after # "
                         f"(known: {', '.join(_PATHS)}, server)")
    return paths


def bind_values(sparql: str, bindings: Mapping[str, Term]) -> str:
    """The query with its variables bound by a ``VALUES`` block of terms written by pyoxigraph (safely escaped).

    The block goes first in the WHERE group, so FILTER and BIND see the values as they do with pyoxigraph's
    substitutions; a trailing VALUES clause would join only after them (and after grouping). Queries whose WHERE
    group cannot be found (CONSTRUCT WHERE, DESCRIBE without one) get the trailing clause, equivalent there.
    """
    names = list(bindings)
    for name in names:
        if not _VARIABLE.match(name):
            raise StoreError(f"not a SPARQL variable name: {name!r}")
        if isinstance(bindings[name], BlankNode):
            raise StoreError(f"?{name}: a blank node cannot be bound in a query")
    variables = " ".join(f"?{name}" for name in names)
    block = f"VALUES ({variables}) {{ ({' '.join(sparql_term(bindings[name]) for name in names)}) }}"
    groups = _top_level_groups(sparql)
    where = next(groups, None)
    if where is not None and where[1] == ("", "CONSTRUCT"):
        where = next(groups, None)  # that was the template
    if where is None or where[1] == ("CONSTRUCT", "WHERE"):
        return f"{sparql}\n{block}"
    return f"{sparql[: where[0] + 1]} {block} {sparql[where[0] + 1 :]}"


_TOKEN = re.compile(
    r"""(?P<skip>"{3}(?:[^"\\]|\\.|"(?!""))*"{3}|'{3}(?:[^'\\]|\\.|'(?!''))*'{3}"""
    r"""|"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'|<[^<>"{}|^`\\\x00-\x20]*>|\#[^\n]*)"""
    r"""|(?P<punct>[{}()])|(?P<space>\s+)|(?P<word>[^\s{}()"'<#]+)|(?P<other>.)""",
    re.DOTALL,
)


def _top_level_groups(sparql: str) -> Iterator[tuple[int, tuple[str, str]]]:
    """Offsets of each ``{`` opening a top-level group, with the two words before it (strings, IRIs, comments
    skipped), e.g. ``(offset, ("", "CONSTRUCT"))`` for a CONSTRUCT template."""
    parens = braces = 0
    words = ("", "")
    position = 0
    while position < len(sparql):
        token = _TOKEN.match(sparql, position)
        assert token is not None  # the last alternative matches any character
        position = token.end()
        kind, text = token.lastgroup, token.group()
        if kind == "word":
            words = (words[1], text.upper())
        elif kind == "punct":
            if text == "{" and parens == 0 and braces == 0:
                yield token.start(), words
            parens += {"(": 1, ")": -1}.get(text, 0)
            braces += {"{": 1, "}": -1}.get(text, 0)
            words = ("", "")
        elif kind != "space":
            words = ("", "")



def parse_answer(response: httpx.Response, where: str, content: bytes | None = None) -> QueryResult:
    """A SPARQL server's answer (or ``content`` read from it) as the query result pyoxigraph would give, by its
    content type (the formats registry); ``where`` names the server in the error when the type is not a results or
    graph format."""
    media_type = response.headers.get("content-type", "")
    content = response.content if content is None else content
    found = by_media_type(media_type, RESULTS) or by_media_type(media_type, GRAPH)
    if found is not None and found.results is not None:
        return pyoxigraph.parse_query_results(content, found.results)
    if found is not None and found.rdf is not None:
        # pyoxigraph has no public constructor for graph results: re-query a scratch store to get the same type.
        scratch = pyoxigraph.Store()
        scratch.load(content, found.rdf)
        return scratch.query("CONSTRUCT WHERE { ?s ?p ?o }")
    shown = media_type.split(";")[0].strip().lower() or "(none)"
    raise StoreError(f"{where} answered with unexpected content type {shown!r}")

class RemoteStore(Store):
    """A SPARQL 1.1 server holding the catalog's graphs (see the module doc for the endpoint syntax).

    The constructor does no I/O: a server that cannot be reached is reported by the first call that needs it.
    That call first asks ``ASK {}`` and gives the server ``connect_timeout`` seconds to connect and answer it, so a
    server that accepts connections but never answers is reported as quickly as one that refuses them; after that
    each read may wait ``timeout`` seconds (large queries and uploads on a live server take that long).
    """

    native_substitutions = False

    def __init__(self, endpoint: str, *, timeout: float = 300.0, connect_timeout: float = 10.0,
                 query_timeout: float | None = None) -> None:
        self.endpoint = endpoint
        #: Named in the endpoint, else Oxigraph's until the server's first answer says otherwise.
        self.profile = named_profile(endpoint) or servers.DEFAULT
        self._use_profile(self.profile)
        self.timeout = timeout
        #: Seconds a query may run on the server, passed as the profile says (None: the server's own limit).
        self.query_timeout = query_timeout
        self.answer_grace = _ANSWER_GRACE
        self.connect_timeout = connect_timeout
        self._client: httpx.Client | None = None

    def _use_profile(self, profile: ServerProfile) -> None:
        self.profile = profile
        self.query_url, self.update_url, self.store_url = endpoint_urls(self.endpoint, profile)
        named_store = "store" in _fragment(self.endpoint)
        self.upload_params = {} if named_store else dict(profile.bulk_params)

    @property
    def location(self) -> str:
        return _public(self.endpoint.partition("#")[0])

    @property
    def client(self) -> httpx.Client:
        if self._client is None:
            client = httpx.Client(timeout=httpx.Timeout(self.timeout, connect=self.connect_timeout),
                                  follow_redirects=True)
            try:
                self._probe(client)
            except BaseException:
                client.close()
                raise
            self._client = client
        return self._client

    def _probe(self, client: httpx.Client) -> None:
        """Any answer to ``ASK {}`` within ``connect_timeout`` (its status does not matter: the real request that
        follows reports refusals in its own words)."""
        try:
            response = client.post(self.query_url, data={"query": "ASK {}"}, headers={"Accept": ACCEPT},
                                   timeout=self.connect_timeout)
        except httpx.TimeoutException:
            raise self.unanswered() from None
        except httpx.HTTPError as error:
            raise self._failure(self.query_url, error) from None
        recognised = servers.recognise(response)
        if recognised is not None and named_profile(self.endpoint) is None and recognised != self.profile:
            self._use_profile(recognised)

    def unanswered(self) -> StoreError:
        """The error of a server that took connections but did not answer within ``connect_timeout`` (also what a
        client that probed it some other way reports, so the user is told once, in these words)."""
        return StoreError(f"the SPARQL server at {_public(self.query_url)} did not answer within "
                          f"{self.connect_timeout:g} s (--timeout)")

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    # -- primitives ---------------------------------------------------------------------------------------------

    def _query(
        self,
        sparql: str,
        *,
        default_graphs: list[NamedNode],
        named_graphs: list[NamedNode],
        bindings: Mapping[str, Term],
    ) -> QueryResult:
        if self.profile.merges_dataset:
            sparql = servers.without_dataset_clauses(sparql)
        ask = self.profile.ask_as_select and servers.query_form(sparql) == "ASK"
        if ask:
            sparql = servers.ask_as_select(sparql)
        text = bind_values(sparql, bindings) if bindings else sparql
        form = {
            "query": text,
            "default-graph-uri": [g.value for g in default_graphs] or [_NO_GRAPH],
            # None given means none, not (as Virtuoso takes it) every graph on the server, its own system graphs too
            "named-graph-uri": [g.value for g in named_graphs] or [_NO_GRAPH],
        }
        accept = ACCEPT
        if self.profile.accept_by_form:
            graph_form = servers.query_form(sparql) in ("CONSTRUCT", "DESCRIBE")
            accept = "application/n-triples" if graph_form else "application/sparql-results+json"
        # The server is told the limit in its own terms (if it has any) and given a little longer to answer; past
        # that this client stops waiting, so a server without such a parameter, or one that never answers, is cut too
        waited = None if self.query_timeout is None else self.query_timeout + self.answer_grace
        response = self._send("POST", self.query_url, data=form, headers={"Accept": accept},
                              params=self.profile.timeout_params(self.query_timeout), waited=waited)
        why = servers.incomplete(response)
        if why is not None:
            raise StoreError(f"incomplete answer from {_public(self.query_url)}: {why}")
        content = response.content
        if self.profile.boolean_digits and b"XMLSchema#boolean" in content:
            content = servers.canonical_booleans(content)
        result = parse_answer(response, _public(self.query_url), content)
        return servers.as_boolean(result) if ask else result

    def _update(self, sparql: str) -> None:
        self._send("POST", self.update_url, data={"update": sparql})

    def _write_graph(self, graph: NamedNode, triples: Iterable[Triple]) -> None:
        self._upload(graph, _ntriples(triples))

    def _write_text(self, graph: NamedNode, chunks: Iterable[bytes], *, checked: bool = False) -> None:
        """The mapper's N-Triples text uploaded as it comes, without parsing it into terms and printing it again (the
        server checks it all the same)."""
        self._upload(graph, chunks)

    def _upload(self, graph: NamedNode, chunks: Iterable[bytes]) -> None:
        """One streamed PUT of N-Triples (one document, so blank nodes keep their identity); memory stays flat.

        When the content fails mid-stream, the upload is not cut off: the server would go on writing what it had
        received after our answer to the failure (dropping the version) had already run, leaving a graph behind.
        Instead the body ends with a line the server refuses, and the failure is raised once the server has
        answered, so the version is discarded only after the server has finished with it.
        """
        failures: list[Exception] = []
        try:
            if self.profile.upload_piece is not None:
                self._upload_pieces(graph, chunks, self.profile.upload_piece)
                return
            self._send("PUT", self.store_url, params={"graph": graph.value, **self.upload_params},
                       content=_guarded(chunks, failures), headers={"Content-Type": "application/n-triples"})
        except (StoreError, SyntaxError):  # what the server says of an abandoned upload (or of bad data)
            if not failures:
                raise
        if failures:
            raise failures[0]

    def _upload_pieces(self, graph: NamedNode, chunks: Iterable[bytes], size: int) -> None:
        """The upload as a PUT of the first piece and a POST (append) of each further one, each with its length,
        for servers that cannot read a streamed body (see :attr:`ServerProfile.upload_piece`). A failure while
        making the content stops the upload between requests; the caller discards the staging graph."""
        method = "PUT"
        # A new connection each: Virtuoso may answer a refused upload before reading all of it
        headers = {"Content-Type": "application/n-triples", "Connection": "close"}
        for piece in servers.pieces(chunks, size):
            self._send(method, self.store_url, params={"graph": graph.value, **self.upload_params}, content=piece,
                       headers=headers)
            method = "POST"
        if method == "PUT":  # no content: still an (empty) graph, as after a streamed PUT of nothing
            self._send(method, self.store_url, params={"graph": graph.value, **self.upload_params}, content=b"",
                       headers=headers)

    def _drop_graph(self, graph: NamedNode) -> None:
        self._update(f"DROP SILENT GRAPH {sparql_term(graph)}")

    def _triples(self, graph: NamedNode) -> Iterator[Triple]:
        if not self.profile.graph_reads_capped:
            yield from self._read_graph(graph)
            return
        expected = self._query(f"SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH {sparql_term(graph)} {{ ?s ?p ?o }} }}",
                               default_graphs=[], named_graphs=[graph], bindings={})
        total = int(next(iter(expected))[0].value)  # type: ignore[arg-type, index, union-attr]
        count = 0
        for count, triple in enumerate(self._read_graph(graph), 1):  # noqa: B007 (count is used after)
            yield triple
        if count < total:
            raise StoreError(f"{_public(self.store_url)} sent {count} of the {total} triples of <{graph.value}>: "
                             "it cuts graphs at its row limit (Virtuoso: raise ResultSetMaxRows)")

    def _read_graph(self, graph: NamedNode) -> Iterator[Triple]:
        request = self.client.build_request("GET", self.store_url, params={"graph": graph.value},
                                            headers={"Accept": "application/n-triples"})
        try:
            response = self.client.send(request, stream=True)
        except httpx.HTTPError as error:
            raise self._failure(self.store_url, error) from None
        try:
            if response.status_code == 404:
                return
            if response.status_code >= 400:
                response.read()
                self._check(response, self.store_url)
            for quad in pyoxigraph.parse(_Reader(response.iter_bytes()), RdfFormat.N_TRIPLES):
                yield quad.triple
        finally:
            response.close()

    # -- HTTP ---------------------------------------------------------------------------------------------------

    def _send(self, method: str, url: str, *, waited: float | None = None, **kwargs: object) -> httpx.Response:
        """One request; ``waited``: seconds to wait for a query's answer (the store's ``query_timeout`` and a grace)."""
        if waited is not None:
            kwargs["timeout"] = httpx.Timeout(min(waited, self.timeout), connect=self.connect_timeout)
        try:
            response = self.client.request(method, url, **kwargs)  # type: ignore[arg-type]
        except httpx.ReadTimeout:
            if waited is None or waited >= self.timeout:
                raise self._failure(url, httpx.TimeoutException("")) from None
            raise StoreError(f"query stopped: it ran longer than the {self.query_timeout:g} s limit "
                             "(setting query_timeout); narrow it down or add LIMIT") from None
        except httpx.HTTPError as error:
            raise self._failure(url, error) from None
        self._check(response, url)
        return response

    def _failure(self, url: str, error: httpx.HTTPError) -> StoreError:
        url = _public(url)
        if isinstance(error, httpx.ConnectError):
            return StoreError(f"cannot reach the SPARQL server at {url} ({error}); is it running?")
        if isinstance(error, httpx.TimeoutException):
            return StoreError(f"the SPARQL server at {url} did not answer within {self.timeout:g} s")
        return StoreError(f"request to the SPARQL server at {url} failed: {error}")

    def _check(self, response: httpx.Response, url: str) -> None:
        if response.status_code < 400:
            return
        refusal = servers.refused(self.profile, response)
        if refusal is not None and url in (self.query_url, self.update_url, self.store_url):
            # The server's parser refused the query, update or uploaded data: what the embedded store raises.
            raise SyntaxError(refusal)
        lines = response.text.strip().splitlines()
        detail = lines[0][:300] if lines else response.reason_phrase
        raise StoreError(f"the SPARQL server at {_public(url)} answered HTTP {response.status_code}: {detail}")


def _public(url: str) -> str:
    """A URL fit for messages: without the user and password httpx sends as basic auth."""
    return re.sub(r"^(https?://)[^/@]*@", r"\1", url)


def _ntriples(triples: Iterable[Triple]) -> Iterator[bytes]:
    lines: list[str] = []
    size = 0
    for triple in triples:
        line = f"{triple} .\n"
        lines.append(line)
        size += len(line)
        if size >= _CHUNK:
            yield "".join(lines).encode()
            lines, size = [], 0
    if lines:
        yield "".join(lines).encode()


def _guarded(chunks: Iterable[bytes], failures: list[Exception]) -> Iterator[bytes]:
    """The chunks; a failure while making them is kept in ``failures`` and ends the body with bad syntax."""
    try:
        yield from chunks
    except Exception as error:
        failures.append(error)
        yield b"\n<upload abandoned by the client> .\n"  # not a triple: the server refuses the upload


class _Reader:
    """A file-like view of a byte stream, for pyoxigraph's streaming parser."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._buffer = bytearray()

    def read(self, size: int = -1) -> bytes:
        while size < 0 or len(self._buffer) < size:
            chunk = next(self._chunks, None)
            if chunk is None:
                break
            self._buffer += chunk
        end = len(self._buffer) if size < 0 else size
        data = bytes(self._buffer[:end])
        del self._buffer[:end]
        return data
