"""The policy loader under seeded mutations of the library (benchmarks/fuzz_policies.py runs
many more on demand): no exception escapes but PolicyLoadError with located problems, no file
takes 2 s, and one bad file never stops `validate` for the others."""

from __future__ import annotations

import shutil
from pathlib import Path

from typer.testing import CliRunner

from benchmarks.fuzz_policies import MAX_SECONDS, run
from rules_engine.cli import app
from rules_engine.data.tags import load_dictionary
from rules_engine.errors import PolicyLoadError
from rules_engine.library.loader import load_policy_text

D = load_dictionary()
ROOT = Path(__file__).resolve().parent.parent


def test_thousands_of_mutated_policies_load_or_fail_with_located_errors() -> None:
    outcomes, crashes, slowest = run(3000, seed=20261123, d=D)
    assert crashes == [], crashes[:3]
    assert outcomes["refused with a located error"] > 2000 and outcomes["loaded"] > 0
    assert slowest < MAX_SECONDS


def _problem(text: str) -> str:
    try:
        load_policy_text(text, D, "p.yaml")
    except PolicyLoadError as exc:
        return str(exc.problems[0])
    raise AssertionError("loaded")


def test_the_files_that_used_to_crash_the_loader() -> None:
    base = (ROOT / "policies" / "innovation" / "yanfa-zengliang.yaml").read_text(encoding="utf-8")
    # a control character: was yaml.ReaderError
    assert _problem(base.replace("version:", "\x07version:")).startswith("p.yaml:")
    # deep nesting: was RecursionError
    for deep in ("(" * 500 + "employees > 1" + ")" * 500, "not " * 3000 + "is_hitech",
                 " + ".join(["employees"] * 3000) + " > 1", "[" * 3000 + "]" * 3000):
        assert "p.yaml:" in _problem(base.replace("when: rd_ratio[上年] >= 3", f"when: {deep}"))
    # odd digits: was ValueError from int(), and decimal.InvalidOperation from the lexer
    assert "version" in _problem(base.replace("version: 1", "version: ²"))
    assert "p.yaml:" in _problem(base.replace("when: rd_ratio[上年] >= 3", "when: rd_ratio[上年] >= 3²"))
    assert "p.yaml:" in _problem(base.replace("when: rd_ratio[上年] >= 3", "when: rd_ratio[上年] >= ３"))
    # an alias bomb: 2^20 nodes from 2 KB took 19.9 s
    bomb = "\n".join(["a0: &a0 [x, x]"] + [f"a{n}: &a{n} [*a{n - 1}, *a{n - 1}]" for n in range(1, 21)])
    assert "YAML 别名" in _problem(bomb + "\n" + base)


def test_one_bad_file_never_stops_validate_for_the_others(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "policies", tmp_path / "p")
    (tmp_path / "p" / "bad1.yaml").write_text("id: x\n\x00", encoding="utf-8")
    (tmp_path / "p" / "bad2.yaml").write_text("when: " + "(" * 5000, encoding="utf-8")
    r = CliRunner().invoke(app, ["validate", "--policies", str(tmp_path / "p")])
    assert r.exit_code == 1
    assert "bad1.yaml:" in r.output and "bad2.yaml:" in r.output and "Traceback" not in r.output


def test_amounts_beyond_what_fen_can_hold_are_refused_where_they_are_written() -> None:
    """Was: a policy amount beyond int64 fen loaded, then crashed evaluation."""
    base = (ROOT / "policies" / "innovation" / "gaoqi-shouci.yaml").read_text(encoding="utf-8")
    for huge in ("100000000000000000000", "1e30", "9223372036854775807"):
        problem = _problem(base.replace("fixed: 200000", f"fixed: {huge}", 1))
        assert problem.startswith("p.yaml:27:") and "10^15" in problem, problem
