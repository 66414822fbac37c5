"""Content as N-Triples text: the running digest every write computes, and chunks of bytes read as one file."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from itertools import islice

from pyoxigraph import Triple

#: Statements per chunk of N-Triples text; the embedded store writes a graph of one chunk in one transaction.
CHUNK = 20_000


class ContentDigest:
    """A running SHA-256 over a graph's content, each statement as N-Triples without its final `` .`` and followed
    by a newline, so that re-importing the same content can change nothing. Triples and statements hash alike, and
    alike to catalogs written before imports came as text (their registry digests stay valid)."""

    def __init__(self) -> None:
        self._hash = hashlib.sha256()
        self.count = 0

    def feed(self, triples: Iterable[Triple]) -> Iterator[Triple]:
        for triple in triples:
            self._hash.update(f"{triple}\n".encode())
            self.count += 1
            yield triple

    def chunks(self, statements: Iterable[str], size: int = CHUNK) -> Iterator[bytes]:
        """The statements as N-Triples text, ``size`` statements a chunk: a few joins and one hash per chunk.

        Every statement is hashed and counted, but a chunk's text holds each statement once: an import repeats the
        description of shared nodes (a parameter's type and label, an agent, an environment) for every run naming
        them (a large share of its statements), and each repeat would be parsed and inserted for nothing.
        The graph is the same, since a chunk is never split across documents (blank nodes keep their identity)."""
        pending = iter(statements)
        while chunk := list(islice(pending, size)):
            self._hash.update(("\n".join(chunk) + "\n").encode())
            self.count += len(chunk)
            yield (" .\n".join(dict.fromkeys(chunk)) + " .\n").encode()

    def hexdigest(self) -> str:
        return self._hash.hexdigest()


class ChunkReader:
    """A binary file over chunks of bytes, so that pyoxigraph parses a stream of chunks as one document (blank
    nodes keep their identity across chunks). Its parsers ask for at most ``size`` bytes a read, and must not get
    more."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks = iter(chunks)
        self._buffer = b""
        self._offset = 0

    def read(self, size: int = -1) -> bytes:
        while self._offset >= len(self._buffer):
            chunk = next(self._chunks, None)
            if chunk is None:
                return b""
            self._buffer, self._offset = chunk, 0
        end = len(self._buffer) if size is None or size < 0 else self._offset + size
        data = self._buffer[self._offset:end]
        self._offset += len(data)
        return data

