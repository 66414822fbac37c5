"""How counts are worded, once for the CLI and the web pages: "1 run", "2 runs", "0 runs"."""

from __future__ import annotations


def noun(count: int, word: str, words: str | None = None) -> str:
    """``word`` for exactly one, else ``words`` (default: ``word`` + "s")."""
    return word if count == 1 else (words or word + "s")


def plural(count: int, word: str, words: str | None = None) -> str:
    """The count and its noun: ``plural(1, "run")`` is "1 run", ``plural(3, "query", "queries")`` "3 queries"."""
    return f"{count} {noun(count, word, words)}"
