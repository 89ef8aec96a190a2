"""`mianshen match` (service.matching): the summary asks the engine for decisions and amounts
only; explanations are computed only for rows that are written, and are those of every row."""

from __future__ import annotations

import datetime as dt

import pytest

from rules_engine import ir
from rules_engine.backends import vectorized
from rules_engine.cli import DEFAULT_POLICIES
from rules_engine.data.datasets import SAMPLE_MANIFEST, load_dataset
from rules_engine.data.tags import load_dictionary
from rules_engine.library.loader import load_library
from rules_engine.results import conform
from rules_engine.service import matching
from rules_engine.sources import FrameSource

D = load_dictionary()
LIB = load_library(DEFAULT_POLICIES, D)
DS = load_dataset(SAMPLE_MANIFEST, D)
AS_OF = dt.date(2026, 6, 30)
WRITTEN = (ir.Status.ELIGIBLE, ir.Status.UNDETERMINED)


@pytest.fixture
def asked(monkeypatch: pytest.MonkeyPatch) -> list[dict]:
    """What each call of the engine asked for."""
    calls: list[dict] = []
    real = vectorized.match

    def spy(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append({"explain_failures": kwargs.get("explain_failures", True), "missing": kwargs.get("missing", True)})
        return real(*args, **kwargs)

    monkeypatch.setattr(vectorized, "match", spy)
    return calls


def test_the_summary_is_the_count_of_the_written_rows_without_explaining_them(asked: list[dict]) -> None:
    source = FrameSource(DS.frame)
    summary = matching.summary(source, LIB.active(), AS_OF)
    assert asked == [{"explain_failures": False, "missing": False}]
    rows = matching.results(source, LIB.active(), AS_OF, WRITTEN)
    assert asked[1] == {"explain_failures": False, "missing": True}  # no failed lists: no not-eligible row is written
    counted = matching.counts_of(rows)
    got = {(p, str(st)): (int(n), int(f)) for p, st, n, f in summary.itertuples(index=False) if n}
    want = {(p, str(st)): (int(n), int(f)) for p, st, n, f in counted.itertuples(index=False) if n}
    assert got == want and sum(n for n, _ in got.values()) > 1000
    assert rows["missing"].ne("").sum() == (rows["status"] == "undetermined").sum()  # every undetermined row says what


def test_written_rows_are_the_contract_and_name_what_is_missing_like_the_whole_frame(asked: list[dict]) -> None:
    """The rows are in the contract's order and dtypes (results.conform is the identity on them);
    undetermined rows name the same tags, and not-eligible rows (--all) the same failed conditions,
    as computing every list over every row and filtering afterwards."""
    source = FrameSource(DS.frame)
    every = vectorized.match(DS.frame, LIB.active(), AS_OF).to_frame(sort=True)
    for statuses in (WRITTEN, None):
        rows = matching.results(source, LIB.active(), AS_OF, statuses)
        assert conform(rows).equals(rows)
        want = every if statuses is None else every[every["status"].isin([s.label for s in statuses])]
        assert rows.equals(want.reset_index(drop=True))
    assert asked[-1] == {"explain_failures": True, "missing": True}
    assert (every["failed"] != "").sum() > 1000 and (every["missing"] != "").sum() > 100


def test_storage_parquet_is_matched_a_slice_at_a_time_into_the_same_rows(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`mianshen match` over storage Parquet reads and writes a slice at a time (memory is one
    slice's): the summary and the Parquet rows are those of the whole frame matched at once."""
    import pandas as pd
    from typer.testing import CliRunner

    from rules_engine.cli.main import app
    from rules_engine.data.datasets import write_storage_parquet
    from rules_engine.data.values import fmt_yuan

    (tmp_path / "data").mkdir()
    write_storage_parquet(DS.frame.iloc[:1700], tmp_path / "data" / "part-0.parquet")
    write_storage_parquet(DS.frame.iloc[1700:], tmp_path / "data" / "part-1.parquet")
    seen: list[int] = []
    real = vectorized.match
    monkeypatch.setattr(vectorized, "match", lambda df, *a, **k: seen.append(len(df)) or real(df, *a, **k))
    runner = CliRunner()
    for argv in ([], ["-o", str(tmp_path / "rows.parquet")]):
        seen.clear()
        r = runner.invoke(app, ["match", "--data", str(tmp_path / "data"), "--as-of", "2026-06-30", "--chunk", "500",
                                *argv], terminal_width=200)
        assert r.exit_code == 0, r.output
        assert seen == [500, 500, 500, 200, 500, 500, 300]  # slices of each part file, never the whole
        whole = runner.invoke(app, ["match", "--as-of", "2026-06-30"], terminal_width=200)
        assert whole.exit_code == 0, whole.output
        table = [line for line in r.output.splitlines() if "│" in line]
        assert table == [line for line in whole.output.splitlines() if "│" in line]
    rows = pd.read_parquet(tmp_path / "rows.parquet")
    want = matching.results(FrameSource(DS.frame), LIB.active(), AS_OF, WRITTEN)
    got = rows.sort_values(["policy", "credit_code"], ignore_index=True)
    assert len(got) == len(want) > 1000
    for col in ("credit_code", "policy", "version", "amount_fen", "missing", "failed"):
        assert got[col].tolist() == want[col].tolist(), col
    assert got["status"].tolist() == want["status"].astype(str).tolist()
    assert got["amount_yuan"].tolist() == [fmt_yuan(int(f), grouped=False) for f in want["amount_fen"]]


def test_rows_built_by_arrow_are_the_contract_rows() -> None:
    """The province file is written from Arrow columns (no Python string per row): the same
    rows, values and order as the contract frame, for the written rows and for --all."""
    res = vectorized.match(DS.frame, LIB.active(), AS_OF)
    for statuses in (WRITTEN, None):
        frame = res.to_frame(statuses, sort=True)
        table = res.to_arrow(statuses).to_pandas()
        assert list(table.columns) == list(frame.columns) and len(table) == len(frame) > 1000
        assert table.astype(str).equals(frame.astype(str))


def test_yuan_column_is_fmt_yuan() -> None:
    from rules_engine.data.values import fmt_yuan

    fen = [0, 5, 99, 100, 101, -1, -100, -12345, 123456789012]
    assert matching.yuan_column(fen).to_pylist() == [fmt_yuan(f, grouped=False) for f in fen]
