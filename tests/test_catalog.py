"""Catalog services: the collector pause around an import."""

from __future__ import annotations

import gc
import threading
from pathlib import Path

import pytest

from expgraph import catalog
from expgraph.catalog import collector_paused, run_import
from expgraph.importers.records import RecordsImporter
from expgraph.store import EmbeddedStore

FIXTURES = Path(__file__).parent / "fixtures"


def test_an_import_runs_with_the_collector_paused_and_restores_it(monkeypatch: pytest.MonkeyPatch) -> None:
    seen = []
    real = catalog.store_batch
    monkeypatch.setattr(catalog, "store_batch", lambda *a, **k: seen.append(gc.isenabled()) or real(*a, **k))
    source = next((FIXTURES / "records").glob("*.yaml"))
    assert gc.isenabled()
    run_import(EmbeddedStore(), RecordsImporter(str(source)))
    assert seen == [False]
    assert gc.isenabled()


def test_the_collector_comes_back_after_a_failure_and_stays_off_if_it_was() -> None:
    with pytest.raises(ValueError), collector_paused():
        raise ValueError("bad source")
    assert gc.isenabled()
    gc.disable()
    try:
        with collector_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_overlapping_imports_in_threads_restore_the_collector_once_all_are_done() -> None:
    """The first import to start ends first: the collector must stay off for the second, and come back after it."""
    first_in, second_in, first_out = threading.Event(), threading.Event(), threading.Event()

    def first() -> None:
        with collector_paused():
            first_in.set()
            second_in.wait(10)
        first_out.set()

    thread = threading.Thread(target=first)
    thread.start()
    first_in.wait(10)
    with collector_paused():
        second_in.set()
        first_out.wait(10)
        thread.join(10)
        assert not gc.isenabled()
    assert gc.isenabled()
