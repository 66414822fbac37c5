"""Safety checks on a SPARQL request before anything runs: refuse updates and outbound requests, run what was checked.

The public endpoint is read-only and never talks to the network. pyoxigraph *does* fetch ``SERVICE`` clauses over
HTTP, and it can neither parse a query without running it nor be told not to follow ``SERVICE``. So the guard does
not ask a second parser (rdflib's comment rule once swallowed a ``\\r`` that ends the comment for pyoxigraph, and a
``SERVICE`` behind it ran): :mod:`expgraph.sparql.lexer` cuts the text into SPARQL terminals, the guard decides on
those, and the engine runs the text rebuilt from them (:attr:`CheckedQuery.text`), never the text as sent.

Refused: a bare word or prefixed name containing ``service`` in any case (``SERVICE`` is a keyword; no keyword or
function name of SPARQL contains the word, so this refuses nothing a query needs, and leaves no gap between how two
readers split a word), updates (403, ``LOAD`` 400), and prefixes never declared. ``FROM`` / ``FROM NAMED`` may only
name graphs of this store (pyoxigraph never fetches them); the caller checks the names, since only it knows them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from urllib.parse import urljoin

from expgraph.sparql.lexer import LexError, Token, canonical, tokens, unescape_codepoints


class QueryRefused(ValueError):
    """A request the endpoint will not run; ``status`` is the HTTP status to answer with (400 or 403)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


#: One wording for an update sent where only queries run, shared by the endpoint and the CLI.
READ_ONLY = "read-only: SPARQL updates (INSERT, DELETE, LOAD, CLEAR, DROP, CREATE, ...) are refused here"
NO_SERVICE = "SERVICE is refused: this endpoint never makes outbound requests"


@dataclass(frozen=True)
class CheckedQuery:
    """What the endpoint needs to know of a query that passed the checks, and the text to run."""

    form: str  # SELECT, ASK, CONSTRUCT or DESCRIBE
    from_graphs: tuple[str, ...]  # IRIs of FROM clauses
    from_named: tuple[str, ...]  # IRIs of FROM NAMED clauses
    text: str  # the canonical text: exactly what was checked, and what must run
    #: (offset in ``text``, offset in the sent text after codepoint escapes) of each token, for error positions
    spans: tuple[tuple[int, int], ...] = field(default=(), compare=False, repr=False)
    source: str = field(default="", compare=False, repr=False)  # the sent text after codepoint escapes


_FORMS = ("SELECT", "ASK", "CONSTRUCT", "DESCRIBE")
_UPDATES = ("INSERT", "DELETE", "LOAD", "CLEAR", "DROP", "CREATE", "ADD", "MOVE", "COPY", "WITH")
_IRIREF = re.compile(r"^<[^<>\"{}|^`\\\x00-\x20]*>$")


def check_query(text: str, base: str | None = None) -> CheckedQuery:
    """The query's form, dataset clauses and text to run; raises :class:`QueryRefused` for anything refused.

    ``base`` is the IRI relative IRIs resolve against when the query declares no ``BASE`` (the endpoint's URL).
    """
    if not text.strip():
        raise QueryRefused("empty query")
    # Remembered for short texts only: a cache of large bodies would hold gigabytes.
    return _check_cached(text, base) if len(text) <= _CACHED_CHARS else _check(text, base)


_CACHED_CHARS = 64 * 1024


def _check(text: str, base: str | None) -> CheckedQuery:
    try:
        unescaped = unescape_codepoints(text)
        found = [token for token in tokens(unescaped) if token.kind != "comment"]
    except LexError as error:
        raise QueryRefused(f"malformed query: {_where(_unescape_safe(text), error.offset)}: {error}") from None
    for token in found:
        if token.kind in ("word", "pname", "bnode") and "service" in token.text.casefold():
            raise QueryRefused(NO_SERVICE)
    prefixes, declared_base, body = _prologue(found)
    keyword = body[0].text.upper() if body and body[0].kind == "word" else ""
    if keyword == "LOAD" or any(t.kind == "word" and t.text.upper() == "LOAD" for t in body):
        raise QueryRefused("LOAD is refused: this endpoint never makes outbound requests, and is " + READ_ONLY)
    if keyword in _UPDATES:
        raise QueryRefused(f"this endpoint is {READ_ONLY}", status=403)
    if keyword not in _FORMS:
        near = body[0].text[:40] if body else "the end"
        raise QueryRefused(f"malformed query: expected SELECT, ASK, CONSTRUCT or DESCRIBE, found {near!r}")
    for token in body:
        if token.kind == "pname" and token.text.split(":", 1)[0] not in prefixes:
            prefix = token.text.split(":", 1)[0]
            raise QueryRefused(f"unknown prefix {prefix}: (declare it: PREFIX {prefix}: <...>), "
                               f"at {_where(unescaped, token.offset)}")
    effective_base = urljoin(base or "", declared_base) if declared_base is not None else base
    default, named = _dataset(body, prefixes, effective_base or "")
    head = f"BASE <{base}> " if base and declared_base is None and _IRIREF.match(f"<{base}>") else ""
    spans, parts, length, end = [], [head], len(head), None
    for token in found:
        if end is not None and token.offset > end:  # whitespace or a comment between: one space
            parts.append(" ")
            length += 1
        spans.append((length, token.offset))
        parts.append(canonical(token))
        length += len(parts[-1])
        end = token.offset + len(token.text)
    return CheckedQuery(keyword, default, named, "".join(parts), tuple(spans), unescaped)


_check_cached = lru_cache(maxsize=512)(_check)


def _unescape_safe(text: str) -> str:
    try:
        return unescape_codepoints(text)
    except LexError:
        return text


def _prologue(found: list[Token]) -> tuple[dict[str, str], str | None, list[Token]]:
    """Declared prefixes, the declared base (None when none) and the tokens after the prologue."""
    prefixes: dict[str, str] = {}
    base: str | None = None
    position = 0
    while position < len(found):
        word = found[position].text.upper() if found[position].kind == "word" else ""
        if word == "BASE" and position + 1 < len(found) and found[position + 1].kind == "iri":
            base = urljoin(base or "", found[position + 1].text[1:-1])
            position += 2
        elif (word == "PREFIX" and position + 2 < len(found) and found[position + 1].kind == "pname"
              and found[position + 1].text.endswith(":") and found[position + 2].kind == "iri"):
            prefixes[found[position + 1].text[:-1]] = urljoin(base or "", found[position + 2].text[1:-1])
            position += 3
        else:
            break
    return prefixes, base, found[position:]


def _dataset(body: list[Token], prefixes: dict[str, str], base: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    default, named = [], []
    for position, token in enumerate(body):
        if token.kind != "word" or token.text.upper() != "FROM":
            continue
        target = body[position + 1] if position + 1 < len(body) else None
        into = default
        if target is not None and target.kind == "word" and target.text.upper() == "NAMED":
            into, target = named, body[position + 2] if position + 2 < len(body) else None
        if target is None or target.kind not in ("iri", "pname"):
            raise QueryRefused("malformed query: FROM must name a graph by its IRI")
        into.append(_iri(target, prefixes, base))
    return tuple(default), tuple(named)


def _iri(token: Token, prefixes: dict[str, str], base: str) -> str:
    if token.kind == "pname":
        prefix, local = token.text.split(":", 1)
        return prefixes[prefix] + re.sub(r"\\(.)", r"\1", local)
    return urljoin(base, token.text[1:-1]) if base else token.text[1:-1]


def _where(text: str, offset: int) -> str:
    line = text.count("\n", 0, offset) + 1
    column = offset - (text.rfind("\n", 0, offset) + 1) + 1
    near = text[offset:offset + 30].split("\n")[0]
    return f"line {line}, column {column}, near {near!r}"


_POSITION = re.compile(r"error at (\d+):(\d+): ?")


def explain_syntax_error(checked: CheckedQuery, message: str) -> str:
    """pyoxigraph's parse error as a person can act on it: the problem in words, not the grammar's alternatives,
    at the line and column of the text as sent (the engine's position is in the canonical text)."""
    match = _POSITION.search(message)
    detail = message[match.end():] if match else message
    if "variable that is unbound" in detail:
        return f"malformed query: {_unbound_message(checked.text)}"
    if "IRI parsing failed" in detail:
        detail = "not a valid IRI"
    elif len(detail) > 100 or "expected one of" in detail:
        detail = "unexpected text"
    if not match or not checked.spans:
        return f"malformed query: {detail}"
    column = int(match[2]) - 1
    if column >= len(checked.text):  # at the last token, as sent
        return (f"malformed query: {detail} at the end of the query (is something missing?), "
                f"{_where(checked.source, checked.spans[-1][1])}")
    before = [source for at, source in checked.spans if at <= column]
    return f"malformed query: {detail} at {_where(checked.source, before[-1] if before else 0)}"


def _unbound_message(text: str) -> str:
    """Name the SELECT variables that an aggregate query neither groups by nor computes."""
    found = [t for t in tokens(text) if t.kind != "comment"]
    upper = [t.text.upper() for t in found]
    start = upper.index("SELECT") + 1 if "SELECT" in upper else 0
    end = upper.index("WHERE") if "WHERE" in upper else next((i for i, t in enumerate(found) if t.text == "{"),
                                                              len(found))
    depth, plain = 0, []
    for token in found[start:end]:
        depth += token.text == "("
        depth -= token.text == ")"
        if depth == 0 and token.kind == "var":
            plain.append(token.text)
    grouped = set()
    if "GROUP" in upper:
        grouped = {t.text[1:] for t in found[upper.index("GROUP"):] if t.kind == "var"}
    missing = [name for name in plain if name[1:] not in grouped]
    names = ", ".join(dict.fromkeys(missing)) or "a variable"
    return (f"SELECT names {names}, which is neither grouped (GROUP BY) nor computed by an aggregate; "
            "add it to GROUP BY or wrap it in SAMPLE(...)")
