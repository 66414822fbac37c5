"""What each SPARQL server does differently, as one profile per server for the remote store.

A remote store speaks only the SPARQL 1.1 Protocol, Update and Graph Store Protocol; a profile holds what those
standards leave to the server: where the three services live, how a query's time limit is passed, whether a bulk
load can skip the server's transaction, and how the server says an answer is incomplete. The profile is named in
the endpoint URL's fragment (``#server=virtuoso``) or recognised from the ``Server`` header of the server's first
answer. docs/deploy.md describes each server, with references.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field

import httpx
import pyoxigraph
from pyoxigraph import QueryResultsFormat, QuerySolutions

from expgraph.sparql.lexer import LexError, original_offsets, tokens, unescape_codepoints
from expgraph.store.base import QueryResult, StoreError


@dataclass(frozen=True)
class ServerProfile:
    """One server's conventions (see docs/deploy.md for the sources)."""

    name: str
    #: Paths of the query, update and Graph Store Protocol services, relative to the endpoint's base URL.
    query: str = "query"
    update: str = "update"
    store: str = "store"
    #: Paths a user may give as the endpoint URL itself, stripped to find the base (e.g. Virtuoso's ``/sparql``).
    query_suffixes: tuple[str, ...] = ("query",)
    #: Extra parameters of a Graph Store Protocol PUT that loads a staging graph (Oxigraph's non-transactional
    #: bulk load: safe, since a version is invisible until swapped in).
    bulk_params: Mapping[str, str] = field(default_factory=dict)
    #: The query parameter carrying a time limit and its unit in seconds (Virtuoso: milliseconds), if any.
    timeout_param: str | None = None
    timeout_unit: float = 1.0
    #: Bytes per request of an upload to a server that cannot read a streamed (chunked) body: Virtuoso takes one
    #: for empty, answers "201 Created", and reads the body it left unread as the next request on the connection
    #: ("501 Method Not Implemented"). Such uploads are sent in pieces with a length, one PUT then POSTs that
    #: append (None: one streamed PUT).
    upload_piece: int | None = None
    #: Whether a Graph Store Protocol GET is cut at the row limit without a word (Virtuoso): each read of a graph
    #: then counts its triples first and raises if fewer came.
    graph_reads_capped: bool = False
    #: Texts in an error answer that mean the server refused the request's text (a query, update or upload that
    #: does not parse), for servers that say so with a 500 rather than a 400.
    refusal_marks: tuple[str, ...] = ()
    #: Whether FROM / FROM NAMED in the query text add to the graphs the request names instead of giving way to
    #: them, as the Protocol says they must (Virtuoso): the clauses are then taken out of the text.
    merges_dataset: bool = False
    #: Whether ASK is unsafe to send: Virtuoso answers it as a one-column table (``__ASK_RETVAL``) and, worse, lets
    #: ``GRAPH <iri>`` in an ASK reach graphs the request does not name. Such ASKs are sent as a SELECT of at
    #: most one row, and answered as the boolean.
    ask_as_select: bool = False
    #: Whether the Accept header must name only the formats of the query's form: Virtuoso fails half-way when a
    #: CONSTRUCT is asked for as SPARQL results JSON ("SR606").
    accept_by_form: bool = False
    #: Whether booleans come back as ``1`` and ``0``: Virtuoso has no boolean type (``true`` and comparisons give
    #: integers; a cast to xsd:boolean gives ``"1"^^xsd:boolean``): such results are read as true and false.
    boolean_digits: bool = False
    #: The substring of the HTTP ``Server`` header that names this server.
    server_header: str | None = None

    def timeout_params(self, seconds: float | None) -> dict[str, str]:
        """The query parameters passing a time limit as this server understands it (none if it has no such
        parameter: the server's own configured limit applies)."""
        if seconds is None or self.timeout_param is None:
            return {}
        return {self.timeout_param: str(max(1, math.ceil(seconds / self.timeout_unit - 1e-9)))}


PROFILES: dict[str, ServerProfile] = {
    profile.name: profile
    for profile in (
        # The default: its own layout; no per-query timeout (the server's --timeout-s applies).
        ServerProfile("oxigraph", bulk_params={"no_transaction": ""}, server_header="Oxigraph"),
        # One /sparql service for queries and updates; GSP at /sparql-graph-crud; ``timeout`` in milliseconds,
        # after which an "anytime" query answers what it has so far, flagged only in headers.
        ServerProfile("virtuoso", query="sparql", update="sparql", store="sparql-graph-crud",
                      query_suffixes=("sparql",), timeout_param="timeout", timeout_unit=0.001,
                      upload_piece=8 << 20, graph_reads_capped=True,
                      refusal_marks=("37000", "22023", "SP029", "SP030", "RDFXX"), merges_dataset=True,
                      ask_as_select=True, accept_by_form=True, boolean_digits=True, server_header="Virtuoso"),
        # The base is the dataset (http://host:3030/ds); ``timeout`` in seconds.
        ServerProfile("fuseki", store="data", query_suffixes=("query", "sparql"), timeout_param="timeout",
                      server_header="Fuseki"),
        # The base is the repository (http://host:7200/repositories/REPO); GSP at /rdf-graphs/service.
        ServerProfile("graphdb", query="", update="statements", store="rdf-graphs/service", query_suffixes=(),
                      timeout_param="timeout", server_header="GraphDB"),
        # The base is the database (http://host:5820/DB); ``timeout`` in milliseconds.
        ServerProfile("stardog", store="", query_suffixes=("query",), timeout_param="timeout",
                      timeout_unit=0.001),
        # Anything else: the Oxigraph layout without its extensions, paths given in the fragment.
        ServerProfile("generic"),
    )
}
DEFAULT = PROFILES["oxigraph"]


def profile_named(name: str, endpoint: str) -> ServerProfile:
    if name not in PROFILES:
        raise StoreError(f"endpoint {endpoint!r}: unknown server {name!r} after # (known: {', '.join(PROFILES)})")
    return PROFILES[name]


def pieces(chunks: Iterable[bytes], size: int) -> Iterator[bytes]:
    """N-Triples chunks gathered into pieces of about ``size`` bytes, each cut at a chunk's end (so at a line's).

    Each piece goes in its own request, so a blank node named in two pieces would become two nodes: once a chunk
    may name one (``_:`` anywhere, a literal's text included, to be safe), the rest goes in one last piece. The
    mapper's imports name none, so only hand-loaded files with blank nodes are held whole in memory.
    """
    gathered: list[bytes] = []
    length = 0
    blank = False
    for chunk in chunks:
        blank = blank or b"_:" in chunk
        gathered.append(chunk)
        length += len(chunk)
        if length >= size and not blank:
            yield b"".join(gathered)
            gathered, length = [], 0
    if gathered:
        yield b"".join(gathered)


def refused(profile: ServerProfile, response: httpx.Response) -> str | None:
    """The server's own words when an error answer says the request's text was refused, else None."""
    text = re.sub(r"<[^>]+>", "\n", response.text)  # Virtuoso's upload errors are HTML
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if response.status_code == 400:
        return lines[0][:300] if lines else response.reason_phrase
    marked = [line for line in lines if any(mark in line for mark in profile.refusal_marks)]
    return marked[-1][:300] if marked else None


def without_dataset_clauses(sparql: str) -> str:
    """The query without its FROM and FROM NAMED clauses: what the Protocol says a query means when the request
    names its graphs (they "override" the clauses), for servers that would add them instead. Text that does not
    lex is returned as it is, for the server to report."""
    try:
        found = list(tokens(unescape_codepoints(sparql)))
    except LexError:
        return sparql
    to_original = original_offsets(sparql)
    cuts = []
    for position, token in enumerate(found):
        if token.kind != "word" or token.text.upper() != "FROM":
            continue
        following = found[position + 1: position + 3]
        if following and following[0].kind == "word" and following[0].text.upper() == "NAMED":
            following = following[1:]
        if following and following[0].kind in ("iri", "pname"):
            end = following[0].offset + len(following[0].text)
            cuts.append((to_original(token.offset), to_original(end)))
    out, at = [], 0
    for start, end in cuts:
        out += [sparql[at:start], " "]
        at = end
    return "".join(out) + sparql[at:]


def query_form(sparql: str) -> str:
    """SELECT, ASK, CONSTRUCT or DESCRIBE (the first such keyword; SELECT when the text does not lex)."""
    try:
        for token in tokens(unescape_codepoints(sparql)):
            if token.kind == "word" and token.text.upper() in ("SELECT", "ASK", "CONSTRUCT", "DESCRIBE"):
                return token.text.upper()
    except LexError:
        pass
    return "SELECT"


def ask_as_select(sparql: str) -> str:
    """An ASK query as ``SELECT *`` of at most one row (other forms unchanged). Not ``SELECT (1 AS ?x)``: with no
    variable of the pattern projected, Virtuoso also answers from graphs the request does not name."""
    try:
        found = list(tokens(unescape_codepoints(sparql)))
    except LexError:
        return sparql
    ask = next((t for t in found if t.kind == "word" and t.text.upper() in ("SELECT", "ASK", "CONSTRUCT",
                                                                           "DESCRIBE")), None)
    if ask is None or ask.text.upper() != "ASK":
        return sparql
    to_original = original_offsets(sparql)
    start, end = to_original(ask.offset), to_original(ask.offset + len(ask.text))
    depth, trailing_values = 0, False
    for token in found:
        depth += {"{": 1, "}": -1}.get(token.text, 0) if token.kind == "punct" else 0
        trailing_values = trailing_values or (depth == 0 and token.kind == "word" and token.text.upper() == "VALUES")
    limit = "" if trailing_values else "\nLIMIT 1"  # LIMIT cannot follow a trailing VALUES clause
    return f"{sparql[:start]}SELECT *{sparql[end:]}{limit}"


def as_boolean(result: QueryResult) -> QueryResult:
    """The answer to an ASK sent by :func:`ask_as_select`: true when it has a row."""
    value = isinstance(result, QuerySolutions) and next(iter(result), None) is not None
    return pyoxigraph.parse_query_results(f'{{"head": {{}}, "boolean": {str(value).lower()}}}'.encode(),
                                          QueryResultsFormat.JSON)


_BOOLEAN_DIGIT = re.compile(rb'("datatype"\s*:\s*"http://www\.w3\.org/2001/XMLSchema#boolean"\s*,\s*"value"\s*:\s*")([01])"')


def canonical_booleans(results_json: bytes) -> bytes:
    """SPARQL results JSON with each ``"1"^^xsd:boolean`` and ``"0"^^xsd:boolean`` written ``true`` and ``false``,
    the canonical forms every other store gives (see :attr:`ServerProfile.boolean_digits`)."""
    return _BOOLEAN_DIGIT.sub(lambda m: m[1] + (b'true"' if m[2] == b"1" else b'false"'), results_json)


def recognise(response: httpx.Response) -> ServerProfile | None:
    """The profile whose server sent this answer, from its ``Server`` header (None: not known)."""
    header = response.headers.get("server", "")
    return next((p for p in PROFILES.values() if p.server_header and p.server_header in header), None)


def incomplete(response: httpx.Response) -> str | None:
    """Why an answer the server sent with a success status is not the whole answer, or None when it is.

    Servers that cut answers short still say 200: Virtuoso caps SELECT results at ``ResultSetMaxRows`` (saying so
    in ``X-SPARQL-MaxRows``) and ends an "anytime" query at its time limit with whatever it found (``X-SQL-State:
    S1TAT``); partial content (206) is the standard way to say the same. Taking such an answer for complete
    would make counts, lists and validation silently wrong.
    """
    if response.status_code == 206:
        return "the server sent partial content (HTTP 206)"
    if "x-sparql-maxrows" in response.headers:
        return (f"the server cut the answer at its row limit of {response.headers['x-sparql-maxrows']} rows "
                "(Virtuoso: raise ResultSetMaxRows in the [SPARQL] section of virtuoso.ini)")
    if response.headers.get("x-sql-state", "").upper() == "S1TAT":
        return "the server stopped the query at its time limit and sent what it had found so far"
    return None
