"""The run list's value filter language (``where=val_loss < 0.3``): parsing, hostile text, and what passes."""

from __future__ import annotations

import math

import pytest

from expgraph.web.value_filters import (
    MAX_FILTERS,
    ColumnRef,
    Filter,
    FilterError,
    parse_column,
    parse_filter,
    parse_filters,
    resolve,
)

NAMES = {"metric": {"val_loss", "train/loss", "lr_found", "both"}, "param": {"lr", "optimizer", "both", "my name"}}


@pytest.mark.parametrize(("text", "column", "op", "operands"), [
    ("val_loss < 0.3", ColumnRef(None, "val_loss"), "<", (0.3,)),
    ("val_loss<0.3", ColumnRef(None, "val_loss"), "<", (0.3,)),
    ("  val_loss   >=   -1e-3 ", ColumnRef(None, "val_loss"), ">=", (-0.001,)),
    ("lr in [1e-4, 1e-3]", ColumnRef(None, "lr"), "range", (1e-4, 1e-3)),
    ("lr IN [1, 2]", ColumnRef(None, "lr"), "range", (1, 2)),
    ("optimizer = adam", ColumnRef(None, "optimizer"), "=", ("adam",)),
    ("optimizer == adam", ColumnRef(None, "optimizer"), "=", ("adam",)),
    ("optimizer != sgd", ColumnRef(None, "optimizer"), "!=", ("sgd",)),
    ("optimizer in (adam, sgd)", ColumnRef(None, "optimizer"), "in", ("adam", "sgd")),
    ("batch_size = 32", ColumnRef(None, "batch_size"), "=", (32,)),
    ("metric:both > 2", ColumnRef("metric", "both"), ">", (2,)),
    ("param:both = x", ColumnRef("param", "both"), "=", ("x",)),
    ("train/loss <= 1", ColumnRef(None, "train/loss"), "<=", (1,)),
    ('"my name" = "two words"', ColumnRef(None, "my name"), "=", ("two words",)),
    ("note = hello world", ColumnRef(None, "note"), "=", ("hello world",)),
    ("val_loss = nan", ColumnRef(None, "val_loss"), "=", (math.nan,)),
    ("val_loss < inf", ColumnRef(None, "val_loss"), "<", (math.inf,)),
])
def test_filters_parse(text, column, op, operands) -> None:
    parsed = parse_filter(text)
    assert (parsed.column, parsed.op) == (column, op)
    assert len(parsed.operands) == len(operands)
    for got, want in zip(parsed.operands, operands, strict=True):
        assert got == want or (isinstance(want, float) and math.isnan(want) and math.isnan(got))
        assert type(got) is type(want)


@pytest.mark.parametrize(("text", "problem"), [
    ("val_loss <", "expected a value after '<'"),
    ("val_loss", "expected an operator and a value"),
    ("val_loss ~ 3", "expected an operator"),
    ("< 3", "expected a metric or parameter name"),
    ("val_loss < adam", "'<' compares numbers"),
    ("lr in [1e-3, 1e-4]", "the range is empty"),
    ("lr in [1, 2, 3]", "a range is two numbers"),
    ("lr in [a, b]", "a range is two numbers"),
    ("lr in [nan, 1]", "cannot end at NaN"),
    ("lr in [1, ]", "an empty value"),
    ("lr in 1, 2", "'in' takes a range"),
    ("lr in [1, 2", "'in' takes a range"),
    ('optimizer = "adam', "closing quote"),
    ('optimizer = "a"b"', "closing quote"),
    ("x" * 301, "longer than 300"),
    ("val_loss < 1\n", "control characters"),
    ("val_loss < 1\x00", "control characters"),
])
def test_bad_filters_say_what_is_wrong(text, problem) -> None:
    with pytest.raises(FilterError, match="filter") as raised:
        parse_filter(text)
    assert problem in str(raised.value)
    assert "\n" not in str(raised.value)  # one line


@pytest.mark.parametrize("hostile", [
    '") } } DROP ALL #', "val_loss < 1 } ; DELETE WHERE { ?s ?p ?o }", "<script>alert(1)</script> = 1",
    "'; DROP TABLE runs; --", "val_loss = ' OR 1=1 --", "\\u0022 = 1", "metric: = 1", "= = =", "in in in",
    "val_loss in ((((", "[] = []", "ΣΑΣ = 数据", "\u202e = 1",
])
def test_hostile_text_parses_to_plain_values_or_one_error(hostile) -> None:
    """Whatever comes in is either a filter of plain values (looked up in Python, never written into a query) or a
    FilterError; nothing else escapes."""
    try:
        parsed = parse_filter(hostile)
    except FilterError as error:
        assert "\n" not in str(error)
        return
    assert isinstance(parsed, Filter)
    assert all(isinstance(o, int | float | str) for o in parsed.operands)


def test_at_most_ten_filters_and_blanks_are_ignored() -> None:
    assert parse_filters(["", "  ", "lr > 1"]) == [parse_filter("lr > 1")]
    with pytest.raises(FilterError, match=f"at most {MAX_FILTERS}"):
        parse_filters(["lr > 1"] * (MAX_FILTERS + 1))


def test_names_resolve_to_their_kind() -> None:
    assert resolve(ColumnRef(None, "val_loss"), NAMES) == ColumnRef("metric", "val_loss")
    assert resolve(ColumnRef(None, "lr"), NAMES) == ColumnRef("param", "lr")
    assert resolve(parse_column("param:both"), NAMES) == ColumnRef("param", "both")
    with pytest.raises(FilterError, match="both a metric and a parameter: write metric:both or param:both"):
        resolve(ColumnRef(None, "both"), NAMES)
    with pytest.raises(FilterError, match="no metric or parameter named 'nope'"):
        resolve(ColumnRef(None, "nope"), NAMES)
    with pytest.raises(FilterError, match="no parameter named 'val_loss'"):
        resolve(parse_column("param:val_loss"), NAMES)
    with pytest.raises(FilterError, match="no name after metric:"):
        parse_column("metric:")


@pytest.mark.parametrize(("text", "passing", "failing"), [
    ("v < 0.3", [0.1, -5, 0.2999], [0.3, 1, math.nan, math.inf, "0.1", None]),
    ("v <= 0.3", [0.3], [0.30001]),
    ("v > 1", [math.inf, 2], [-math.inf, 1, math.nan]),
    ("v in [1e-4, 1e-3]", [1e-4, 5e-4, 1e-3], [1e-5, 0.002, math.nan, None, "0.0005"]),
    ("v = adam", ["adam", "Adam"], ["adamw", 1, None]),
    ("v != adam", ["sgd", 3], ["ADAM", None]),
    ("v = 32", [32, 32.0], [33, "32x"]),
    ("v = true", ["true"], ["false"]),
    ("v = nan", [math.nan], [1.0]),
    ("v in (adam, 32)", ["adam", 32], ["sgd", 31]),
])
def test_what_passes(text, passing, failing) -> None:
    flt = parse_filter(text)
    assert [v for v in passing if not flt.matches(v)] == []
    assert [v for v in failing if flt.matches(v)] == []


def test_filters_are_written_back_canonically() -> None:
    flt = parse_filter("lr in [1e-4,1e-3]")
    resolved = Filter(resolve(flt.column, NAMES), flt.op, flt.operands)
    assert resolved.text() == "param:lr in [0.0001, 0.001]"
    assert parse_filter(resolved.text()) == resolved
    quoted = parse_filter('param:"my name" = "two words"')
    assert quoted.text() == 'param:"my name" = "two words"' and parse_filter(quoted.text()) == quoted
