"""Previous versions of a graph, kept by the retention policy: the store contract on the in-memory, on-disk and
remote (Oxigraph server) stores. Small graphs only: these run on every store kind."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pyoxigraph import Literal, NamedNode, Quad, Triple

from expgraph.namespaces import PROV, RDF, RDFS
from expgraph.store import EmbeddedStore, Retention, Store, StoreError, VersionInfo, open_store
from expgraph.store.base import AUDIT, REGISTRY
from expgraph.store.embedded import ARCHIVE
from test_store import EX, ONE, TWO, labels, physical_graphs, sample

KEEP = Retention(keep=2)


@pytest.fixture(params=["memory", "disk", "oxigraph"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "memory":
        opened: Store = EmbeddedStore()
    elif request.param == "disk":
        opened = EmbeddedStore(tmp_path / "store")
    else:
        server = request.getfixturevalue("own_oxigraph")
        server.reset()
        opened = open_store(endpoint=server.endpoint)
    opened.retention = KEEP
    yield opened
    opened.close()


def write_versions(store: Store, count: int) -> list[NamedNode]:
    """``count`` versions of ONE, each with its own content; their IRIs, oldest first."""
    versions = []
    for n in range(count):
        assert store.replace_graph(ONE, sample(2 + n, f"v{n}-")) is True
        versions.append(store.active_graphs()[ONE.value].version)
    return versions


def test_previous_versions_are_kept_up_to_the_limit_newest_first(store: Store) -> None:
    written = write_versions(store, 4)
    versions = store.versions(ONE)
    assert [v.version for v in versions] == written[::-1][:3]  # the active one and two previous ones
    assert versions[0].active and not any(v.active for v in versions[1:])
    assert [v.triples for v in versions] == [5, 4, 3]
    assert all(v.superseded for v in versions[1:]) and versions[1].superseded >= versions[2].superseded


def test_kept_versions_are_never_queried_as_the_catalog(store: Store) -> None:
    write_versions(store, 3)
    assert labels(store) == {f"v2-{i}" for i in range(4)}
    assert set(store.active_graphs()) == {ONE.value}
    rows = store.select("SELECT DISTINCT ?g WHERE { GRAPH ?g { ?s ?p ?o } }")
    assert {row["g"].value for row in rows} == {store.active_graphs()[ONE.value].version.value}


def test_an_old_version_reads_back_as_it_was(store: Store) -> None:
    first, _second, _third = write_versions(store, 3)
    assert labels_of(store, first) == {"v0-0", "v0-1"}


def test_two_versions_compare_in_one_query_with_bound_terms(store: Store) -> None:
    _first, second, third = write_versions(store, 3)
    rows = store.query_versions(
        "SELECT ?s ?old ?new WHERE { GRAPH ?new { ?s ?p ?o } FILTER NOT EXISTS { GRAPH ?old { ?s ?q ?x } } }",
        [second, third], old=second, new=third)
    assert {row["s"].value for row in rows} == {EX["s3"].value}  # type: ignore[union-attr]


def test_only_versions_can_be_read_that_way(store: Store) -> None:
    write_versions(store, 1)
    for graph in (REGISTRY, AUDIT, TWO, NamedNode(ONE.value + "/version/nope")):
        with pytest.raises(StoreError, match="not a version"):
            store.query_versions("ASK { GRAPH ?g { ?s ?p ?o } }", [graph])


def test_kept_versions_are_not_leftovers_and_released_ones_leave_nothing(store: Store) -> None:
    written = write_versions(store, 5)
    store.sweep()
    assert [v.version for v in store.versions(ONE)] == written[::-1][:3]
    held = physical_graphs(store)
    if isinstance(store, EmbeddedStore):  # the main store holds the active graphs only; the rest is archived
        assert held == {REGISTRY.value, written[-1].value}
        archived = {g.value for g in store.archive.named_graphs()}
        assert archived == {v.value for v in written[2:4]}
    else:
        assert held == {REGISTRY.value, *(v.value for v in written[2:])}


def test_an_unchanged_write_keeps_no_new_version(store: Store) -> None:
    write_versions(store, 2)
    before = store.versions(ONE)
    assert store.replace_graph(ONE, sample(3, "v1-")) is False
    assert store.versions(ONE) == before


def test_versions_name_the_activities_that_wrote_them(store: Store) -> None:
    activity = NamedNode("https://example.org/activity/1")
    audit = [Triple(activity, RDF.type, PROV.Activity), Triple(activity, RDFS.label, Literal("import"))]
    store.replace_graph(ONE, sample(2), audit=audit)
    store.replace_graph(ONE, sample(3))
    assert [v.activities for v in store.versions(ONE)] == [(), (activity,)]


def test_dropping_a_graph_drops_its_history(store: Store) -> None:
    write_versions(store, 3)
    assert store.drop(ONE)
    assert store.versions(ONE) == []
    store.sweep()
    assert physical_graphs(store) == {REGISTRY.value}


def test_no_history_by_default(tmp_path: Path) -> None:
    with EmbeddedStore(tmp_path / "plain") as plain:
        write_versions(plain, 3)
        assert len(plain.versions(ONE)) == 1
        assert not (tmp_path / "plain" / ARCHIVE).exists()


def test_versions_older_than_the_age_limit_are_released() -> None:
    now = datetime(2026, 12, 3, tzinfo=UTC)

    def kept(days_ago: float) -> VersionInfo:
        stamp = (now - timedelta(days=days_ago)).isoformat().replace("+00:00", "Z")
        return VersionInfo(ONE, NamedNode(f"{ONE.value}/version/{days_ago}"), "d", 1, stamp, stamp)

    versions = [kept(1), kept(10), kept(40), kept(100)]
    assert Retention(keep=10, days=30).released(versions, now) == versions[2:]
    assert Retention(keep=1, days=0).released(versions, now) == versions[1:]
    assert Retention(keep=0).released(versions, now) == versions
    with pytest.raises(ValueError, match="history_keep"):
        Retention(keep=-1)


def test_a_crashed_archive_copy_is_made_again(tmp_path: Path) -> None:
    """A copy into the archive cut short (no completion mark) is swept, never taken for the kept version."""
    with EmbeddedStore(tmp_path / "store") as store:
        store.retention = KEEP
        (first,) = write_versions(store, 1)
        store.archive.add(Quad(EX.s0, RDFS.label, Literal("half"), first))  # a copy that died before its mark
        assert store.sweep() == [first]
        assert store.replace_graph(ONE, sample(1, "next")) is True
        assert labels_of(store, first) == {"v0-0", "v0-1"}


def labels_of(store: Store, version: NamedNode) -> set[str]:
    rows = store.query_versions("SELECT ?label WHERE { GRAPH ?g { ?s ?p ?label } }", [version])
    return {row["label"].value for row in rows}  # type: ignore[union-attr]
