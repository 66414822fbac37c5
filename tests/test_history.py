"""Metric histories kept whole as one ``eg:history`` literal: spelled by the mapper, read back by the charts."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import pytest

from expgraph.history import history_text, read_history
from expgraph.importers.series import summarise_steps

T0 = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)


def test_a_history_reads_back_with_nan_and_infinities_as_such() -> None:
    points = [(2, math.inf, None), (0, 2.5, T0), (1, math.nan, T0), (3, -math.inf, T0), (4, 1e-05, T0)]
    text = history_text(points)
    assert text.split()[0] == f"0,2.5,{int(T0.timestamp() * 1000)}"  # step order, whatever order given
    steps, values, times = read_history(text)
    assert steps == [0, 1, 2, 3, 4]
    assert values[0] == 2.5 and math.isnan(values[1]) and values[2] == math.inf and values[3] == -math.inf
    assert values[4] == 1e-05
    assert times[0] == T0.timestamp() and times[2] is None


def test_a_malformed_history_names_the_point() -> None:
    with pytest.raises(ValueError, match="point 2"):
        read_history("0,1.0, 1,oops,")


def test_trackers_that_log_every_value_keep_them_all() -> None:
    metric = summarise_steps("loss", {3: (0.5, T0), 1: (0.9, None), 2: (math.nan, T0)})
    assert metric.history is not None
    points = sorted(metric.history.points, key=lambda point: point[0])  # kept in logging order
    assert [(step, when) for step, _, when in points] == [(1, None), (2, T0), (3, T0)]
    assert points[0][1] == 0.9 and math.isnan(points[1][1]) and points[2][1] == 0.5


@pytest.mark.parametrize(("module", "name", "fixture"), [
    ("sacred", "SacredImporter", "sacred/runs"),
    ("tensorboard", "TensorBoardImporter", "tensorboard/logdir"),
    ("wandb", "WandbImporter", "wandb/wandb"),
])
def test_every_history_a_tracker_logged_is_kept_whole(memory_store, module, name, fixture) -> None:
    """On stores written by the trackers themselves: each metric with a summary has its whole history, with as
    many points as its value count, in step order."""
    import importlib
    from pathlib import Path

    from expgraph.catalog import prepare, run_import

    importer = getattr(importlib.import_module(f"expgraph.importers.{module}"), name)
    run_import(prepare(memory_store), importer(str(Path(__file__).parent / "fixtures" / fixture)))
    rows = memory_store.select("""PREFIX eg: <https://w3id.org/expgraph#>
        SELECT ?m ?count ?history WHERE { ?m eg:valueCount ?count OPTIONAL { ?m eg:history ?history } }""")
    assert rows
    for row in rows:
        assert "history" in row, f"{row['m'].value} has a summary but no history"
        steps, _, _ = read_history(row["history"].value)
        assert len(steps) == int(row["count"].value) and steps == sorted(steps)


def test_a_very_long_history_keeps_its_extremes_within_the_limit() -> None:
    from expgraph.history import MAX_POINTS

    points = [(step, 1.0 / (step + 1), None) for step in range(50_000)]
    points[31_337] = (31_337, 99.0, None)
    points[40_000] = (40_000, math.nan, None)
    steps, values, _ = read_history(history_text(points))
    assert len(steps) <= MAX_POINTS + 1 and steps[0] == 0 and steps == sorted(steps)
    kept = dict(zip(steps, values, strict=True))
    assert kept[31_337] == 99.0 and math.isnan(kept[40_000]) and kept[0] == 1.0
