"""durable-rules decides exactly as the vectorized engine, and each of its limits is handled."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import threading
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from rules_engine import ir
from rules_engine.backends import vectorized
from rules_engine.backends.durable import MAX_EXPRESSION_NODES, DurableEngine, DurableLimitError, compile_policy
from rules_engine.data import frame
from rules_engine.errors import EngineError
from rules_engine.ledger.decide import decide
from tests.strategies import AS_OF, DICTIONARY, TAGS, policies, rows, tag, value_for

ENGINE = DurableEngine()  # one engine for the whole module, as a worker would have


def vectorized_decisions(policy: ir.Policy, data: list[dict[str, object]], as_of: dt.date) -> list[tuple]:
    df = frame.to_frame([{**r, "credit_code": f"E{i}"} for i, r in enumerate(data)], DICTIONARY,
                        columns=["credit_code", *TAGS])
    out = vectorized.match(df, [policy], as_of).to_frame()
    return [(s, int(a)) for s, a in zip(out["status"], out["amount_fen"])]


@st.composite
def event_sequences(draw: st.DrawFn) -> list[dict[str, object]]:
    """A starting profile, then the profile after each of a few random tag updates (or removals)."""
    row = dict(draw(rows))
    seq = [dict(row)]
    for _ in range(draw(st.integers(1, 6))):
        name = draw(st.sampled_from(list(TAGS)))
        row[name] = draw(value_for(name))
        seq.append(dict(row))
    return seq


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(policy=policies(), profiles=event_sequences())
def test_durable_rules_decides_like_the_vectorized_engine(policy: ir.Policy, profiles: list[dict]) -> None:
    expected = vectorized_decisions(policy, profiles, AS_OF)
    got = []
    try:
        for i, row in enumerate(profiles):
            d = decide(ENGINE, policy, row, AS_OF, sid=f"E{i}")
            got.append((d.status.label, d.amount_fen))
    except DurableLimitError as exc:
        # a documented gap, not a wrong answer: durable-rules cannot hold this condition
        # (error 113); test_limit_expressions_per_rule pins where that starts
        assert "error 113" in str(exc) or "expression nodes" in str(exc), exc
        event("durable-rules limit: condition too complex (documented gap)")
        return
    event("compared")
    assert got == expected


# ------------------------------------------------------------------ each durable-rules limit, handled

def _policy(*preds: ir.Pred) -> ir.Policy:
    return ir.Policy("lim", 1, "t", "d", ir.LegalBasis("doc", "no"), ir.Tier3.AUTO, dt.date(2000, 1, 1), None, (),
                     tuple(ir.Condition(f"c{i}", p, "") for i, p in enumerate(preds)), ir.Fixed(Decimal(1)))


def _raw_durable(script: str, timeout: float = 20) -> subprocess.CompletedProcess[str]:
    prelude = ("import durable.engine as E\nclass H(E.Host):\n    def _run(self): pass\nh = H()\n"
               "def act(c): pass\n")
    return subprocess.run([sys.executable, "-c", prelude + script], capture_output=True, text=True, timeout=timeout)


def test_limit_fact_properties() -> None:
    # the engine: the 254th property fails with error 302
    r = _raw_durable("h.register_rulesets({'p': {'r': {'all': [{'m': {'$gte': {'x': 5}}}], 'run': act}}})\n"
                     "for n in (253, 254):  # properties, sid included\n"
                     "    ev = {f'k{i}': i for i in range(n - 2)}; ev['x'] = 6; ev['sid'] = 's'\n"
                     "    try: h.post('p', ev); print(n, 'ok')\n"
                     "    except Exception as e: print(n, e)\n")
    assert r.stdout.splitlines() == ["253 ok", "254 Could not assert event, error code: 302"]
    # ours: a policy whose fact would be too large is refused before durable-rules sees it
    preds = [ir.Compare(">=", ir.Arith("-", tag("m1"), ir.Num(Decimal(i))), ir.Num(Decimal(0))) for i in range(260)]
    with pytest.raises(DurableLimitError, match="fact properties"):
        compile_policy(_policy(ir.Or(tuple(preds))), AS_OF)


def test_limit_pending_matches() -> None:
    r = _raw_durable("rules = {f'r{i}': {'all': [{'m': {'$gte': {'x': i}}}], 'run': act} for i in range(65)}\n"
                     "h.register_rulesets({'p': rules})\n"
                     "try: h.assert_fact('p', {'x': 100, 'sid': 's'}); print('ok')\n"
                     "except Exception as e: print(e)\n")
    assert r.stdout.strip() == "Could not assert fact, error code: 303"
    many = [ir.Compare(">=", tag("n0"), ir.Num(Decimal(i))) for i in range(33)]
    with pytest.raises(DurableLimitError, match="33 conditions; durable-rules can fire at most 64"):
        compile_policy(_policy(*many), AS_OF)
    assert decide(ENGINE, _policy(*many[:32]), {"n0": Decimal(40)}, AS_OF).status is ir.Status.ELIGIBLE


def test_limit_expressions_per_rule() -> None:
    def ors_of_ands(k: int) -> ir.Pred:
        return ir.Or(tuple(ir.And((ir.Compare(">=", tag("n0"), ir.Num(Decimal(i))),
                                   ir.Compare("<=", tag("n2"), ir.Num(Decimal(i))))) for i in range(k)))

    row = {"n0": Decimal(5), "n2": Decimal(1)}
    assert decide(DurableEngine(), _policy(ors_of_ands(14)), row, AS_OF).status is ir.Status.ELIGIBLE
    with pytest.raises(DurableLimitError, match="too complex for durable-rules .* error 113"):
        decide(DurableEngine(), _policy(ors_of_ands(15)), row, AS_OF)


def test_limit_expression_nodes() -> None:
    huge = ir.Or(tuple(ir.Compare("==", tag("n0"), ir.Num(Decimal(i))) for i in range(MAX_EXPRESSION_NODES + 1)))
    with pytest.raises(DurableLimitError, match="expression nodes"):
        compile_policy(_policy(huge), AS_OF)


def test_limit_registered_rulesets_never_change() -> None:
    r = _raw_durable("d = {'r': {'all': [{'m': {'$gte': {'x': 5}}}], 'run': act}}\n"
                     "h.register_rulesets({'p': d})\n"
                     "try: h.register_rulesets({'p': {'r': {'all': [{'m': {'$gte': {'x': 6}}}], 'run': act}}})\n"
                     "except Exception as e: print(e)\n")
    assert r.stdout.strip() == "Ruleset with name p already registered"
    engine = DurableEngine()
    p = _policy(ir.Compare(">=", tag("n0"), ir.Num(Decimal(5))))
    decide(engine, p, {"n0": Decimal(5)}, AS_OF)
    decide(engine, p, {"n0": Decimal(6)}, AS_OF)  # the same ruleset, reused
    changed = _policy(ir.Compare(">=", tag("n0"), ir.Num(Decimal(6))))
    assert decide(engine, changed, {"n0": Decimal(5)}, AS_OF).status is ir.Status.NOT_ELIGIBLE  # a new ruleset
    assert decide(engine, p, {"n0": Decimal(5)}, dt.date(2025, 1, 1)).status is ir.Status.ELIGIBLE  # new date
    assert len(engine.registered) == 3


def test_no_match_is_undetermined_not_an_error() -> None:
    p = _policy(ir.Compare(">=", tag("n0"), ir.Num(Decimal(5))))
    assert decide(ENGINE, p, {}, AS_OF).status is ir.Status.UNDETERMINED


def test_missing_tests_do_not_hang() -> None:
    # the engine: a rule that is only $nex never returns
    with pytest.raises(subprocess.TimeoutExpired):
        _raw_durable("h.register_rulesets({'p': {'r': {'all': [{'m': {'$nex': {'x': 1}}}], 'run': act}}})\n"
                     "h.post('p', {'y': 1, 'sid': 's'})\n", timeout=5)
    # ours: the same test, as a policy, answers at once (in a subprocess, so a hang cannot stop the suite)
    code = ("import datetime as dt\nfrom decimal import Decimal\nfrom rules_engine import ir\n"
            "from rules_engine.backends.durable import DurableEngine\nfrom tests.strategies import tag\n"
            "p = ir.Policy('n', 1, 't', 'd', ir.LegalBasis('a', 'b'), ir.Tier3.AUTO, dt.date(2000, 1, 1), None, (),"
            " (ir.Condition('c', ir.IsNull(tag('n0')), ''),), ir.Fixed(Decimal(1)))\n"
            "e = DurableEngine()\nprint(e.status(p, {}, dt.date(2024, 1, 1)).label,"
            " e.status(p, {'n0': Decimal(1)}, dt.date(2024, 1, 1)).label)\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
    assert r.stdout.strip() == "eligible not_eligible", r.stderr


def test_one_thread_owns_the_engine() -> None:
    engine = DurableEngine()
    errors: list[Exception] = []

    def other() -> None:
        try:
            decide(engine, _policy(ir.Truthy(tag("b1"))), {"b1": True}, AS_OF)
        except EngineError as exc:
            errors.append(exc)

    t = threading.Thread(target=other)
    t.start()
    t.join()
    assert len(errors) == 1 and "不是线程安全的" in str(errors[0])
    assert threading.active_count() < 10  # the host starts no timer threads


def test_python_version_is_pinned_below_313() -> None:
    import tomllib
    from pathlib import Path

    meta = tomllib.loads((Path(__file__).parent.parent / "pyproject.toml").read_text())
    assert meta["project"]["requires-python"] == ">=3.11,<3.13"


def test_the_library_on_the_sample_agrees_with_the_vectorized_engine() -> None:
    from rules_engine.cli import DEFAULT_POLICIES
    from rules_engine.data.datasets import SAMPLE_MANIFEST, load_dataset
    from rules_engine.data.frame import row_of
    from rules_engine.data.tags import load_dictionary
    from rules_engine.library.loader import load_library

    d = load_dictionary()
    lib = load_library(DEFAULT_POLICIES, d)
    ds = load_dataset(SAMPLE_MANIFEST, d)
    as_of = dt.date(2026, 6, 30)
    sample = ds.frame.iloc[::10].reset_index(drop=True)  # 300 enterprises × every policy
    vec = vectorized.match(sample, lib.policies, as_of).to_frame()
    expected = {(r.credit_code, r.policy, r.version): (r.status, int(r.amount_fen)) for r in vec.itertuples()}
    engine = DurableEngine()
    for i in range(len(sample)):
        row = row_of(sample, i, d)
        for p in lib.policies:
            dec = decide(engine, p, row, as_of, sid=str(row["credit_code"]))
            assert (dec.status.label, dec.amount_fen) == expected[(row["credit_code"], p.id, p.version)], p.key


def test_no_backend_imports_another() -> None:
    """Was: durable_backend imported the reference evaluator. Backends import the IR (and the
    shared compiler in backends/); the reference evaluator is the oracle they are checked against."""
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    backends = {"rules_engine.backends.reference", "rules_engine.backends.vectorized", "rules_engine.backends.durable",
                "rules_engine.backends.sql", "rules_engine.backends.spark"}
    for mod in sorted(backends):
        package = mod.rsplit(".", 1)[0].split(".")
        tree = ast.parse((root / (mod.replace(".", "/") + ".py")).read_text(encoding="utf-8"))
        imported = set()
        for n in ast.walk(tree):
            if isinstance(n, ast.ImportFrom):
                base = ".".join(package[: len(package) - n.level + 1] + ([n.module] if n.module else [])) \
                    if n.level else (n.module or "")
                imported |= {base} | {f"{base}.{a.name}" for a in n.names}
            elif isinstance(n, ast.Import):
                imported |= {a.name for a in n.names}
        assert not (imported & (backends - {mod})), (mod, imported & backends)
