"""SPARQL 1.1 text as tokens, and back as one canonical text: what the guard checks is exactly what runs.

The guard must decide on the same text the engine executes. pyoxigraph cannot parse a query without running it, nor
be told not to follow ``SERVICE``, so the text is cut into the terminals of the SPARQL 1.1 grammar (section 19.8)
here, and rebuilt from them: each run of whitespace and comments written as one space (tokens that touched still
touch: pyoxigraph refuses some valid spaces, e.g. before the ``)`` of ``COALESCE(1, 2 )``), strings written one
canonical way, all on one line.
Whatever a reader and the engine could disagree on (a comment ended by ``\\r``, a ``\\u`` escape, a tab or a form
feed) is gone from the text that runs. As the grammar says (19.2), ``\\u``/``\\U`` codepoint escapes are replaced
before anything else (pyoxigraph 0.5 only decodes them inside strings and IRIs; the canonical text has none outside
strings, so both readings agree); one naming no character (a surrogate) is refused, and a backslash-u not followed
by hex digits is left as text. A canonical string keeps its backslashes doubled, so an engine that did replace
codepoint escapes first could only ever turn one into an escaped character, never end the string.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Callable, Iterator
from dataclasses import dataclass


class LexError(ValueError):
    """Text that is not made of SPARQL terminals; ``offset`` is where in the (unescaped) text it went wrong."""

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(message)
        self.offset = offset


_BASE = ("A-Za-z\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u02ff\u0370-\u037d\u037f-\u1fff\u200c-\u200d\u2070-\u218f"
         "\u2c00-\u2fef\u3001-\ud7ff\uf900-\ufdcf\ufdf0-\ufffd\U00010000-\U000effff")
_U = _BASE + "_"
_CHARS = _U + "\\-0-9\u00b7\u0300-\u036f\u203f-\u2040"
_PLX = r"%[0-9A-Fa-f]{2}|\\[_~.\-!$&'()*+,;=/?#@%]"
_PREFIX = f"[{_BASE}](?:[{_CHARS}.]*[{_CHARS}])?"
_LOCAL = f"(?:[{_U}:0-9]|{_PLX})(?:(?:[{_CHARS}.:]|{_PLX})*(?:[{_CHARS}:]|{_PLX}))?"
_ECHAR = r"\\[tbnrf\\\"']"
_LANG = r"@[a-zA-Z]+(?:-[a-zA-Z0-9]+)*(?:--[a-zA-Z]+)?"

#: Terminals in the order they are tried at each position (longest forms first where two share a start).
_TOKEN = re.compile("|".join(f"(?P<{kind}>{pattern})" for kind, pattern in (
    ("ws", r"[ \t\r\n]+"),
    ("comment", r"#[^\r\n]*"),  # the grammar: a comment ends at the first 0x0D or 0x0A
    ("iri", r"<[^<>\"{}|^`\\\x00-\x20]*>"),
    ("string", f"(?:'''(?:(?:'|'')?(?:[^'\\\\]|{_ECHAR}))*'''"
               f"|\"\"\"(?:(?:\"|\"\")?(?:[^\"\\\\]|{_ECHAR}))*\"\"\""
               f"|'(?:[^'\\\\\\n\\r]|{_ECHAR})*'"
               f"|\"(?:[^\"\\\\\\n\\r]|{_ECHAR})*\")(?:{_LANG})?"),
    ("var", f"[?$][{_U}0-9][{_U}0-9\u00b7\u0300-\u036f\u203f-\u2040]*"),
    ("bnode", f"_:[{_U}0-9](?:[{_CHARS}.]*[{_CHARS}])?"),
    ("pname", f"(?:{_PREFIX})?:(?:{_LOCAL})?"),
    ("number", r"[+-]?(?:[0-9]+\.[0-9]*[eE][+-]?[0-9]+|\.[0-9]+[eE][+-]?[0-9]+|[0-9]+[eE][+-]?[0-9]+"
               r"|[0-9]*\.[0-9]+|[0-9]+)"),
    ("word", r"[A-Za-z_][A-Za-z0-9_]*"),
    ("punct", r"\^\^|&&|\|\||!=|<=|>=|[{}()\[\];,.*+\-/!<>=|^?$~]"),
)))
_CODEPOINT = re.compile(r"\\u([0-9A-Fa-f]{4})|\\U([0-9A-Fa-f]{8})")
_ESCAPES = {"t": "\t", "b": "\b", "n": "\n", "r": "\r", "f": "\f", '"': '"', "'": "'", "\\": "\\"}


@dataclass(frozen=True)
class Token:
    kind: str  # comment, iri, string, var, bnode, pname, number, word or punct
    text: str  # as written (after codepoint escapes); for strings see :func:`string_value`
    offset: int  # where it starts in the unescaped text


def unescape_codepoints(text: str) -> str:
    """The text with its ``\\uXXXX`` / ``\\UXXXXXXXX`` escapes replaced, as SPARQL does before parsing."""
    def replace(match: re.Match[str]) -> str:
        code = int(match[1] or match[2], 16)
        if code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
            raise LexError(f"bad codepoint escape {match[0]!r}: it names no character", match.start())
        return chr(code)

    return _CODEPOINT.sub(replace, text) if "\\u" in text or "\\U" in text else text  # the same scan as below


def original_offsets(text: str) -> Callable[[int], int]:
    """For text with codepoint escapes: where an offset of the unescaped text is in ``text`` itself."""
    starts: list[int] = []  # offsets (unescaped) just after each escape
    extras: list[int] = []  # characters the escapes up to there took beyond the one they stand for
    extra = 0
    for match in _CODEPOINT.finditer(text):
        extra += len(match[0]) - 1
        starts.append(match.start() - (extra - len(match[0]) + 1) + 1)
        extras.append(extra)

    def to_original(offset: int) -> int:
        index = bisect_right(starts, offset)
        return offset + (extras[index - 1] if index else 0)

    return to_original


def tokens(text: str) -> Iterator[Token]:
    """The terminals of already unescaped text, comments included, whitespace left out."""
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            raise LexError(f"unexpected character {text[position]!r}", position)
        kind = match.lastgroup
        assert kind is not None
        if kind != "ws":
            yield Token(kind, match.group(), position)
        position = match.end()


def string_value(token: Token) -> tuple[str, str]:
    """A string token's value and what follows its closing quote (a language tag, or nothing)."""
    text = token.text
    quote = text[:3] if text[:3] in ("'''", '"""') else text[0]
    end = text.rindex(quote)
    body = text[len(quote):end]
    return re.sub(r"\\(.)", lambda m: _ESCAPES[m[1]], body, flags=re.S), text[end + len(quote):]


def canonical_string(value: str, suffix: str = "") -> str:
    """A string as a short double-quoted literal: only backslash, quote, LF and CR escaped; one line."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
    return f'"{keep_backslash_u(escaped)}"{suffix}'


_BACKSLASH_U = re.compile(r"\\\\([uU])|\\.", re.S)


def keep_backslash_u(escaped: str) -> str:
    """Escaped string content in which an escaped backslash followed by ``u`` or ``U`` stays that text for every
    reader: the letter is written ``\\u0075`` (``\\u0055``), so a reader that replaces codepoint escapes first (as
    SPARQL says) and one that decodes them inside strings (pyoxigraph) both read a backslash and the letter, and
    neither reads ``\\\\u0022`` as an escaped quote."""
    if "\\u" not in escaped and "\\U" not in escaped:
        return escaped
    return _BACKSLASH_U.sub(lambda m: "\\\\\\u00" + ("75" if m[1] == "u" else "55") if m[1] else m[0], escaped)


def canonical(token: Token) -> str:
    """The token as the executed text writes it."""
    if token.kind == "string":
        return canonical_string(*string_value(token))
    return token.text
