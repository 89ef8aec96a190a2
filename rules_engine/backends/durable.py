"""The durable-rules backend: the policy IR compiled into durable-rules rulesets (JSON form).

Every durable-rules limit is handled here, and nowhere else imports durable:

| limit (durable-rules 2.0.28) | measured here | what this module does |
|---|---|---|
| properties per fact | 253 + sid/id; the 254th fails with error 302 | a fact carries only the properties its policy reads; more than MAX_FACT_PROPERTIES raises DurableLimitError before posting |
| pending matches per event | 64; the 65th fails with error 303 | two rules per condition, at most one of which fires; more than 32 conditions raise DurableLimitError |
| expressions per rule | 31 (MAX_SEQUENCE_EXPRESSIONS 32): more fails with error 113 | one rule per condition and outcome, no redundant guards; error 113 becomes DurableLimitError naming the policy |
| ruleset size | ~600 rules or a ~1,000-term expression hangs registration (error 108 on some builds) | expressions over MAX_EXPRESSION_NODES raise DurableLimitError before registering |
| a registered ruleset never changes | re-registering a name raises | rulesets are named by policy key, evaluation date and a hash of their definition; the same definition is reused, a new one gets a new name |
| no rule matches | MessageNotHandledException | normal: no condition is definitely true or false, so the pair is undetermined |
| an event is consumed by the first rule it matches | the other conditions' rules never see it | each profile is asserted as a fact (seen by every rule) and retracted at once |
| a rule that is only `$nex` | hangs the engine | every rule is anchored on a property every fact carries |
| `$nex` nested in `$or`/`$and` | reports a match but never runs the action | `$nex` is never used: a fact marks each missing property explicitly, and absence is an `$eq` test |
| not thread-safe; Host() starts timer threads | | a Host subclass without timer threads, owned by the thread that made it; use from another thread raises |
| an action with two parameters is taken as asynchronous | the session blocks until its callback runs | actions take exactly one parameter |
| no build on Python 3.13 | | the package requires Python < 3.13 |

Kleene logic in a two-valued engine: each condition P compiles to T(P), "P is definitely
true" (every value it reads is present and it holds), and F(P), "P is definitely false".
T(a and b) = T(a) and T(b); F(a and b) = F(a) or F(b); T(not a) = F(a); and so on. Each
condition i is a pair of rules, t<i> = T and f<i> = F; the policy is eligible when every
t<i> fires, not eligible when any f<i> fires, and undetermined otherwise. Durable-rules
decides every condition; the amount of an eligible pair is computed by the engine's exact
formula evaluator.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import threading
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import durable.engine as durable_engine

from .. import ir
from ..errors import EngineError, UnsupportedConstruct
from ..ir import Kind, Status

MAX_FACT_PROPERTIES = 250  # durable-rules accepts 253 besides sid and id; keep a margin
MAX_EXPRESSION_NODES = 400  # a 300-term OR registers; 1,000 hangs; 600 rules hang
MAX_PENDING_MATCHES = 64  # the 65th rule matching one event fails with error 303
MAX_RULE_EXPRESSIONS = 31  # MAX_SEQUENCE_EXPRESSIONS 32 in durable-rules' C source: error 113
ANCHOR = "__policy"  # present in every fact: a rule anchored on it never hangs
MISSING = "_"  # fact property "<name>_" = 1 marks <name> as missing: $nex is never used (see below)
EPOCH = dt.date(1970, 1, 1)
FLIP = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "==": "==", "!=": "!="}
NEGATE = {"<": ">=", "<=": ">", ">": "<=", ">=": "<", "==": "!=", "!=": "=="}
DURABLE_OP = {"<": "$lt", "<=": "$lte", ">": "$gt", ">=": "$gte", "==": "$eq", "!=": "$neq"}


class DurableLimitError(EngineError):
    """A policy would exceed a durable-rules limit; refused before durable-rules sees it."""


# ------------------------------------------------------------------ fact properties


@dataclass(frozen=True)
class Prop:
    """One fact property and how to compute it from a profile (natural values)."""

    name: str
    kind: str  # value | days | ymd | md | prefix | diff | same
    exprs: tuple[ir.Expr, ...]
    scale: int = 0
    length: int = 0  # prefix length

    def compute(self, row: dict[str, object]) -> object:
        values = [_value(e, row) for e in self.exprs]
        if any(v is None for v in values):
            return None
        v = values[0]
        if self.kind == "value":
            if isinstance(v, Decimal):
                return int(v.scaleb(self.scale))
            return v  # str or bool
        if self.kind in ("days", "ymd", "md"):
            assert isinstance(v, dt.date)
            if self.kind == "days":
                return (v - EPOCH).days
            if self.kind == "ymd":
                return v.year * 10000 + v.month * 100 + v.day
            return (v.year * 12 + v.month) * 100 + v.day
        if self.kind == "prefix":
            s = str(v)
            return s[: self.length] if len(s) >= self.length else None
        if self.kind == "diff":
            w = values[1]
            if isinstance(v, dt.date) and isinstance(w, dt.date):
                return (v - w).days
            assert isinstance(v, Decimal) and isinstance(w, Decimal)
            return int((v - w).scaleb(self.scale))
        return v == values[1]  # same


def _value(e: ir.Expr, row: dict[str, object]) -> object:
    """A value expression's natural value in a profile, None if a tag is missing. (Not the
    reference evaluator's: a backend imports only the IR.)"""
    match e:
        case ir.Tag(name=name):
            return row.get(name)
        case ir.Num(value=v) | ir.Str(value=v) | ir.DateLit(value=v) | ir.BoolLit(value=v):
            return v
        case ir.Arith(op=op, left=left, right=right):
            a, b = _value(left, row), _value(right, row)
            if a is None or b is None:
                return None
            assert isinstance(a, Decimal) and isinstance(b, Decimal)
            return a + b if op == "+" else a - b if op == "-" else a * b
    raise UnsupportedConstruct(f"durable-rules backend: {type(e).__name__} as a fact property")


def _scale_of(e: ir.Expr) -> int:
    match e:
        case ir.Tag(type=t):
            return t.scale if t is not None else 0
        case ir.Num(value=v):
            return ir.decimal_scale(v)
        case ir.Arith(op="*", left=left):
            return _scale_of(left)
        case ir.Arith(left=left, right=right):
            return max(_scale_of(left), _scale_of(right))
    return 0


def _int_threshold(op: str, value: Decimal) -> tuple[str, int] | bool:
    """`x op value` for integer x, as `x op' n` with an integer n, or a constant."""
    if value == value.to_integral_value():
        return op, int(value)
    lo, hi = math.floor(value), math.ceil(value)
    if op in (">", ">="):
        return ">=", hi
    if op in ("<", "<="):
        return "<=", lo
    return op == "!="  # never equal to a non-integer


# ------------------------------------------------------------------ compiler


@dataclass
class CompiledPolicy:
    policy: ir.Policy
    as_of: dt.date
    name: str
    definition: dict[str, Any]  # the durable-rules JSON, without actions
    props: dict[str, Prop] = field(default_factory=dict)

    def fact(self, row: dict[str, object], sid: str, event_id: int) -> dict[str, Any]:
        """Each property is present with its value, or its missing marker is (never both)."""
        out: dict[str, Any] = {ANCHOR: 1, "sid": sid, "id": event_id}
        for name, prop in self.props.items():
            v = prop.compute(row)
            if v is None:
                out[name + MISSING] = 1
            else:
                out[name] = v
        return out


class _Compiler:
    def __init__(self, as_of: dt.date) -> None:
        self.as_of = as_of
        self.props: dict[str, Prop] = {}
        self.nodes = 0

    def prop(self, kind: str, exprs: tuple[ir.Expr, ...], scale: int = 0, length: int = 0) -> str:
        key = json.dumps([kind, [repr(e) for e in exprs], scale, length])
        name = "p" + hashlib.sha1(key.encode()).hexdigest()[:10]  # noqa: S324 - a name, not security
        self.props.setdefault(name, Prop(name, kind, exprs, scale, length))
        return name

    def leaf(self, op: str, name: str, value: object) -> dict[str, Any]:
        # no $ex guard: a comparison on a missing property never matches (measured), and
        # every entry counts against durable-rules' 31 expressions per rule
        self.nodes += 1
        return {DURABLE_OP[op]: {name: value}}

    def exists(self, names: list[str]) -> dict[str, Any]:
        self.nodes += len(names)
        return {"$and": [{"$ex": {n: 1}} for n in names]}

    def absent(self, name: str) -> dict[str, Any]:
        self.nodes += 1
        return {"$eq": {name + MISSING: 1}}

    @staticmethod
    def const(value: bool) -> dict[str, Any]:
        return {"$gte": {ANCHOR: 1}} if value else {"$lt": {ANCHOR: 0}}

    def both(self, p: ir.Pred) -> tuple[dict[str, Any], dict[str, Any]]:
        """(T(p), F(p)) as durable-rules expressions."""
        match p:
            case ir.And(items=items) | ir.Or(items=items):
                parts = [self.both(i) for i in items]
                ts, fs = [t for t, _ in parts], [f for _, f in parts]
                self.nodes += 2
                if isinstance(p, ir.And):
                    return {"$and": ts}, {"$or": fs}
                return {"$or": ts}, {"$and": fs}
            case ir.Not(item=item):
                t, f = self.both(item)
                return f, t
            case ir.Truthy(expr=e):
                name = self.value_prop(e)
                return self.leaf("==", name, True), self.leaf("==", name, False)
            case ir.Const(value=v):
                return self.const(v), self.const(not v)
            case ir.Within() | ir.Growth():
                return self.both(p.lowered())
            case ir.IsNull(expr=e, negated=neg):
                names = [self.value_prop(ir.Tag(t, ir.tag_type(e, t))) for t in ir.tags_of(e)]
                present = self.exists(names)
                absent = {"$or": [self.absent(n) for n in names]}
                return (present, absent) if neg else (absent, present)
            case ir.Compare(op=op, left=left, right=right):
                return self.compare(op, left, right)
            case ir.Between(expr=e, low=lo, high=hi):
                return self.both(ir.And((ir.Compare(">=", e, lo), ir.Compare("<=", e, hi))))
            case ir.InSet(expr=e, values=values, negated=neg):
                tests = [ir.Compare("==", e, v) for v in values]
                pred: ir.Pred = ir.Or(tuple(tests)) if len(tests) > 1 else tests[0]
                return self.both(ir.Not(pred) if neg else pred)
            case ir.Under(expr=e, codes=codes):
                assert isinstance(e, ir.Tag) and e.type is not None
                ts, fs = [], []
                for c in codes:
                    prefix = ir.code_prefix(c, e.type.hierarchy)
                    name = self.prop("prefix", (e,), length=len(prefix))
                    ts.append(self.leaf("==", name, prefix))
                    fs.append(self.leaf("!=", name, prefix))
                # a code shorter than a prefix has no such property: it is not under it
                whole = self.value_prop(e)
                shorter = [{"$and": [{"$ex": {whole: 1}}, self.absent(self.prop(
                    "prefix", (e,), length=len(ir.code_prefix(c, e.type.hierarchy))))]} for c in codes]
                self.nodes += 2 * len(codes)
                false = {"$and": [{"$or": [f, s]} for f, s in zip(fs, shorter)]}
                return {"$or": ts}, self.not_coarser(e, codes, false)
        raise UnsupportedConstruct(f"durable-rules backend: predicate {type(p).__name__}")

    def not_coarser(self, e: ir.Expr, codes: tuple[str, ...], expr: dict[str, Any]) -> dict[str, Any]:
        """`expr`, and the value is not a level above `codes` (that would be unknown)."""
        assert isinstance(e, ir.Tag) and e.type is not None
        coarser = ir.coarser_codes(codes, e.type.hierarchy)
        if not coarser:
            return expr
        whole = self.value_prop(e)
        return {"$and": [expr, *(self.leaf("!=", whole, c) for c in coarser)]}

    def value_prop(self, e: ir.Expr) -> str:
        if ir.expr_kind(e) is Kind.DATE:
            return self.prop("days", (e,))
        if isinstance(e, (ir.Tag, ir.Arith)):
            return self.prop("value", (e,), scale=_scale_of(e))
        raise UnsupportedConstruct(f"durable-rules backend: {type(e).__name__} as a value")

    def compare(self, op: str, left: ir.Expr, right: ir.Expr) -> tuple[dict[str, Any], dict[str, Any]]:
        literal = (ir.Num, ir.Str, ir.DateLit, ir.BoolLit)
        if isinstance(left, literal) and not isinstance(right, literal):
            left, right, op = right, left, FLIP[op]
        if isinstance(right, literal):
            if isinstance(left, ir.Elapsed):
                return self.elapsed(op, left, right)
            if isinstance(right, ir.DateLit):
                name = self.prop("days", (left,))
                return self.pair(op, name, (right.value - EPOCH).days)
            if isinstance(right, ir.Num):
                scale = _scale_of(left)
                name = self.value_prop(left)
                bound = _int_threshold(op, right.value.scaleb(scale))
                if isinstance(bound, bool):
                    t = self.exists([name]) if bound else self.const(False)
                    f = self.const(False) if bound else self.exists([name])
                    return t, f
                return self.pair(bound[0], name, bound[1])
            name = self.value_prop(left)
            t, f = self.pair(op, name, right.value)
            if ir.is_code(left) and isinstance(right, ir.Str):
                # a value a level above the code decides neither way
                return (t, self.not_coarser(left, (right.value,), f)) if op == "==" else \
                    (self.not_coarser(left, (right.value,), t), f)
            return t, f
        if isinstance(left, ir.Elapsed) or isinstance(right, ir.Elapsed):
            raise UnsupportedConstruct("durable-rules backend: elapsed time compared with a non-literal")
        lt = ir.expr_kind(left)
        if lt in (Kind.NUMBER, Kind.MONEY, Kind.DATE):
            scale = max(_scale_of(left), _scale_of(right))
            name = self.prop("diff", (left, right), scale=scale)
            return self.pair(op, name, 0)
        if op not in ("==", "!="):
            raise UnsupportedConstruct(f"durable-rules backend: '{op}' between two {lt} values")
        name = self.prop("same", (left, right))
        return self.pair("==", name, op == "==")

    def pair(self, op: str, name: str, value: object) -> tuple[dict[str, Any], dict[str, Any]]:
        return self.leaf(op, name, value), self.leaf(NEGATE[op], name, value)

    def elapsed(self, op: str, e: ir.Elapsed, lit: ir.Expr) -> tuple[dict[str, Any], dict[str, Any]]:
        """Whole years/months/days since a date, against a number, as a threshold on an encoded date."""
        if not isinstance(lit, ir.Num):
            raise UnsupportedConstruct("durable-rules backend: elapsed time compared with a non-number")
        a = self.as_of
        bound = _int_threshold(op, lit.value)
        if isinstance(bound, bool):
            name = self.prop("days", (e.arg,))
            return (self.exists([name]), self.const(False)) if bound else (self.const(False), self.exists([name]))
        op2, n = bound

        def at_least(k: int) -> tuple[str, int]:
            """elapsed >= k  <=>  encoded(date) <= threshold(k)."""
            if e.unit is ir.ElapsedUnit.DAYS:
                return self.prop("days", (e.arg,)), (a - EPOCH).days - k
            if e.unit is ir.ElapsedUnit.YEARS:
                return self.prop("ymd", (e.arg,)), (a.year - k) * 10000 + a.month * 100 + a.day
            return self.prop("md", (e.arg,)), (a.year * 12 + a.month - k) * 100 + a.day

        if op2 in (">=", ">"):
            name, thr = at_least(n if op2 == ">=" else n + 1)
            return self.pair("<=", name, thr)
        if op2 in ("<", "<="):
            name, thr = at_least(n if op2 == "<" else n + 1)
            return self.pair(">", name, thr)
        ge = ir.Compare(">=", e, ir.Num(Decimal(n)))
        lt = ir.Compare("<", e, ir.Num(Decimal(n + 1)))
        both: ir.Pred = ir.And((ge, lt))
        return self.both(both if op2 == "==" else ir.Not(both))


def compile_policy(policy: ir.Policy, as_of: dt.date) -> CompiledPolicy:
    """The policy as a durable-rules ruleset for one evaluation date: for each condition i,
    rule t<i> fires when it definitely holds and f<i> when it definitely does not."""
    policy = ir.at(policy, as_of)
    c = _Compiler(as_of)
    definition: dict[str, Any] = {}
    for i, cond in enumerate(policy.conditions):
        t, f = c.both(cond.pred)
        definition[f"t{i}"] = {"all": [{"m": t}]}
        definition[f"f{i}"] = {"all": [{"m": f}]}
    if 2 * len(policy.conditions) > MAX_PENDING_MATCHES:
        raise DurableLimitError(f"{policy.key} has {len(policy.conditions)} conditions; durable-rules can fire at "
                                f"most {MAX_PENDING_MATCHES} rules for one event (error 303)")
    if 3 + len(c.props) > MAX_FACT_PROPERTIES:
        raise DurableLimitError(f"{policy.key} needs {len(c.props)} fact properties; at most "
                                f"{MAX_FACT_PROPERTIES - 3} fit in one durable-rules fact")
    if c.nodes > MAX_EXPRESSION_NODES:
        raise DurableLimitError(
            f"{policy.key} compiles to {c.nodes} expression nodes; durable-rules hangs on large rulesets, "
            f"so at most {MAX_EXPRESSION_NODES} are allowed (split the policy's conditions)")
    digest = hashlib.sha256(json.dumps(definition, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:12]
    return CompiledPolicy(policy, as_of, f"{policy.key}@{as_of.isoformat()}#{digest}", definition, dict(c.props))


# ------------------------------------------------------------------ the engine


class _QuietHost(durable_engine.Host):
    """A Host without the timer threads Host() starts: one thread owns all of it."""

    def _run(self) -> None:
        pass


class DurableEngine:
    """Decides (enterprise, policy) pairs with durable-rules. Not thread-safe: owned by its creator."""

    def __init__(self) -> None:
        self.host = _QuietHost()
        self.owner = threading.get_ident()
        self.compiled: dict[tuple[str, dt.date], CompiledPolicy] = {}
        self.registered: set[str] = set()
        self.event_id = 0
        self._fired: list[str] = []

    def _action(self, rule: str) -> Any:
        # exactly one parameter: durable-rules treats a two-parameter callable as an
        # asynchronous action and blocks the session until its callback is called
        fired = self._fired

        def action(c: Any) -> None:
            fired.append(rule)

        return action

    def _check_thread(self) -> None:
        if threading.get_ident() != self.owner:
            raise EngineError("durable-rules 引擎不是线程安全的：只能在创建它的线程中使用")

    def ruleset(self, policy: ir.Policy, as_of: dt.date) -> CompiledPolicy:
        self._check_thread()
        key = (policy.key + "|" + repr(policy.conditions), as_of)
        cp = self.compiled.get(key)
        if cp is None:
            cp = compile_policy(policy, as_of)
            if cp.name not in self.registered:  # a registered ruleset can never change: reuse by name
                rules = {rule: {**body, "run": self._action(rule)} for rule, body in cp.definition.items()}
                try:
                    self.host.register_rulesets({cp.name: rules})
                except Exception as exc:  # durable_rules_engine.error has no importable type
                    if "error code: 113" in str(exc):
                        raise DurableLimitError(
                            f"{policy.key}: a condition is too complex for durable-rules (more than "
                            f"{MAX_RULE_EXPRESSIONS} comparisons and and/or/not steps in one condition, "
                            "error 113); split it into several conditions") from None
                    raise
                self.registered.add(cp.name)
            self.compiled[key] = cp
        return cp

    def status(self, policy: ir.Policy, row: dict[str, object], as_of: dt.date, sid: str = "e") -> Status:
        """The status durable-rules gives one profile (conditions only; the amount comes after)."""
        if not policy.in_force(as_of):
            return Status.NOT_ELIGIBLE
        cp = self.ruleset(policy, as_of)
        self.event_id += 1
        fact = cp.fact(row, sid, self.event_id)
        if len(fact) > MAX_FACT_PROPERTIES:
            raise DurableLimitError(f"a fact for {policy.key} has {len(fact)} properties")
        self._fired.clear()
        try:
            # a fact, not an event: an event is consumed by the first rule it matches,
            # a fact is seen by every rule; it is retracted at once, so nothing accumulates
            self.host.assert_fact(cp.name, fact)
        except durable_engine.MessageNotHandledException:
            pass  # no condition is definitely true or false: normal, every condition is unknown
        else:
            self.host.retract_fact(cp.name, fact)
        fired = set(self._fired)
        n = len(policy.conditions)
        assert not any(f"t{i}" in fired and f"f{i}" in fired for i in range(n)), fired  # exclusive by construction
        if any(f"f{i}" in fired for i in range(n)):
            return Status.NOT_ELIGIBLE  # Kleene AND: one false condition decides
        if all(f"t{i}" in fired for i in range(n)):
            return Status.ELIGIBLE
        return Status.UNDETERMINED

