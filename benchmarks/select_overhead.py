"""Per-call overhead of ``Store.select`` on a small in-memory catalog (40 graphs of 50 triples).

Run it with the code before and after a change to the read path, interleaved (``PYTHONPATH=OLD/src`` then
``PYTHONPATH=NEW/src``); it prints the best of twenty rounds of 1000 in microseconds per select.
"""

from __future__ import annotations

import sys
import time

from pyoxigraph import Literal, NamedNode, Triple

from expgraph.store import EmbeddedStore

PREDICATE = NamedNode("https://e.org/p")
QUERY = "SELECT ?s ?o WHERE { ?s <https://e.org/p> ?o } LIMIT 1"


def main(label: str) -> None:
    store = EmbeddedStore()
    for i in range(40):
        subject = NamedNode(f"https://e.org/s{i}")
        store.replace_graph(NamedNode(f"https://e.org/g/{i}"),
                            [Triple(subject, PREDICATE, Literal(str(j))) for j in range(50)])
    rounds = []
    for _round in range(20):
        started = time.perf_counter()
        for _ in range(1000):
            store.select(QUERY, s=NamedNode("https://e.org/s3"))
        rounds.append((time.perf_counter() - started) / 1000 * 1e6)
    print(label, "us per select (best of 20):", round(min(rounds), 1))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "")
