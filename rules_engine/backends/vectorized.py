"""The vectorized backend: all enterprises × all policies with numpy column operations.

Imports only the IR. Input is a storage frame (see frame.py): money in fen,
numbers scaled by 10^scale, dates, nullable booleans, categoricals.

Three-valued logic is int8 {0: false, 1: unknown, 2: true}, so AND is
np.minimum, OR is np.maximum and NOT is 2 - x. Each distinct sub-condition is
evaluated once per frame and shared by every policy that uses it (IR nodes are
hashable). Missing-tag sets are 64-bit masks per policy, computed only for
policies that have undetermined rows.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd

from .. import ir
from ..errors import UnsupportedConstruct
from ..ir import Kind, Status

F, U, T = np.int8(0), np.int8(1), np.int8(2)
STATUS_LABELS = pd.Index([s.label for s in Status])
EPOCH = dt.date(1970, 1, 1)


# ------------------------------------------------------------------ column access


@dataclass
class _Num:
    v: np.ndarray  # int64, value × 10^scale
    scale: int
    null: np.ndarray | None  # bool, None when no nulls


@dataclass
class _Date:
    days: np.ndarray  # int64 days since 1970-01-01
    null: np.ndarray | None
    ymd: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None


@dataclass
class _Bool:
    v: np.ndarray
    null: np.ndarray | None


@dataclass
class _Cat:
    codes: np.ndarray  # int32, -1 for missing
    cats: np.ndarray  # object array of str
    null: np.ndarray | None


@dataclass
class _Scalar:
    value: object


Vec = _Num | _Date | _Bool | _Cat | _Scalar


def _or_null(a: np.ndarray | None, b: np.ndarray | None) -> np.ndarray | None:
    if a is None:
        return b
    if b is None:
        return a
    return a | b


def _none_if_clean(null: np.ndarray) -> np.ndarray | None:
    return null if null.any() else None


class Columns:
    """Typed numpy views of a storage frame, converted once and cached."""

    def __init__(self, df: pd.DataFrame) -> None:
        self.df = df
        self.n = len(df)
        self.cache: dict[str, Vec] = {}
        self.luts: dict[Any, np.ndarray] = {}  # category lookups, shared by every block

    def rows(self, rows: slice | np.ndarray) -> Rows:
        return Rows(self, rows)

    def all_null(self) -> np.ndarray:
        return np.ones(self.n, dtype=bool)

    def get(self, tag: ir.Tag) -> Vec:
        if tag.name in self.cache:
            return self.cache[tag.name]
        t = tag.type
        assert t is not None, f"unbound tag {tag.name}"
        present = tag.name in self.df.columns
        s = self.df[tag.name] if present else None
        vec: Vec
        if t.kind in (Kind.NUMBER, Kind.MONEY):
            if s is None:
                vec = _Num(np.zeros(self.n, np.int64), t.scale, self.all_null())
            else:
                null = s.isna().to_numpy()
                vec = _Num(s.to_numpy(dtype=np.int64, na_value=0), t.scale, _none_if_clean(null))
        elif t.kind is Kind.DATE:
            if s is None:
                vec = _Date(np.zeros(self.n, np.int64), self.all_null())
            else:
                d = s.to_numpy(dtype="datetime64[s]").astype("datetime64[D]")
                null = np.isnat(d)
                days = np.where(null, 0, d.astype(np.int64))
                vec = _Date(days, _none_if_clean(null))
        elif t.kind is Kind.BOOL:
            if s is None:
                vec = _Bool(np.zeros(self.n, bool), self.all_null())
            else:
                null = s.isna().to_numpy()
                vec = _Bool(s.to_numpy(dtype=bool, na_value=False), _none_if_clean(null))
        elif t.kind in (Kind.CATEGORY, Kind.CODE, Kind.TEXT):
            if s is None:
                vec = _Cat(np.full(self.n, -1, np.int32), np.array([], dtype=object), self.all_null())
            else:
                cat = s if isinstance(s.dtype, pd.CategoricalDtype) else s.astype("category")
                codes = cat.cat.codes.to_numpy().astype(np.int32)
                cats = np.asarray(cat.cat.categories.astype(str), dtype=object)
                vec = _Cat(codes, cats, _none_if_clean(codes < 0))
        else:  # pragma: no cover - Kind is closed
            raise UnsupportedConstruct(f"tag kind {t.kind}")
        self.cache[tag.name] = vec
        return vec

    def null_of(self, name: str) -> np.ndarray | None:
        vec = self.cache.get(name)
        return getattr(vec, "null", None) if vec is not None else None


def _take(vec: Vec, rows: slice | np.ndarray) -> Vec:
    """Some rows of a column: views for a slice, copies for positions; a null mask the rows do
    not need is dropped, so later steps skip it."""
    null = getattr(vec, "null", None)
    part = None if null is None else _none_if_clean(null[rows])
    match vec:
        case _Num(v=v, scale=scale):
            return _Num(v[rows], scale, part)
        case _Date(days=days, ymd=ymd):
            return _Date(days[rows], part, None if ymd is None else (ymd[0][rows], ymd[1][rows], ymd[2][rows]))
        case _Bool(v=v):
            return _Bool(v[rows], part)
        case _Cat(codes=codes, cats=cats):
            return _Cat(codes[rows], cats, part)
    return vec


class Rows:
    """A row range (a block) or a set of row positions (the candidates of one policy) of Columns,
    with the same interface; conversions and category lookups stay shared with the parent."""

    def __init__(self, parent: Columns, rows: slice | np.ndarray) -> None:
        self.parent = parent
        self.sel = rows
        self.n = len(range(parent.n)[rows]) if isinstance(rows, slice) else len(rows)
        self.cache: dict[str, Vec] = {}
        self.luts = parent.luts

    def rows(self, rows: np.ndarray) -> Rows:
        """Positions within this block, as rows of the parent."""
        base = self.sel
        assert isinstance(base, slice) and (base.step or 1) == 1
        return Rows(self.parent, rows + (base.start or 0))

    def all_null(self) -> np.ndarray:
        return np.ones(self.n, dtype=bool)

    def get(self, tag: ir.Tag) -> Vec:
        vec = self.cache.get(tag.name)
        if vec is None:
            vec = self.cache[tag.name] = _take(self.parent.get(tag), self.sel)
        return vec

    def null_of(self, name: str) -> np.ndarray | None:
        vec = self.cache.get(name)
        if vec is None and name in self.parent.cache:  # read by a sub-condition taken from the block
            vec = self.cache[name] = _take(self.parent.cache[name], self.sel)
        return getattr(vec, "null", None) if vec is not None else None


def _ymd(d: _Date) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if d.ymd is None:
        dd = d.days.astype("datetime64[D]")
        months = dd.astype("datetime64[M]")
        y = months.astype("datetime64[Y]").astype(np.int64) + 1970
        m = months.astype(np.int64) % 12 + 1
        day = (dd - months).astype(np.int64) + 1
        d.ymd = (y, m, day)
    return d.ymd


def _rescale(v: np.ndarray, digits: int) -> np.ndarray:
    return v * 10**digits if digits else v


def _div_round_half_up(num: np.ndarray, mult: int, den: int) -> np.ndarray:
    """round_half_away_from_zero(num × mult / den), exactly, without overflowing int64."""
    if mult % den == 0:
        return num * (mult // den)
    peak = int(np.abs(num).max()) if len(num) else 0
    if peak < (2**62) // (2 * mult + 1):
        # the product fits: one division. floor((2|x| + den) / (2 den)) rounds |x|/den half up
        x = num * mult
        mag = (2 * np.abs(x) + den) // (2 * den)
        return np.where(x < 0, -mag, mag)
    q, r = np.divmod(num, den)  # floor division: 0 <= r < den
    a, b = np.divmod(r * mult, den)
    n = q * mult + a
    return n + np.where(n >= 0, 2 * b >= den, 2 * b > den).astype(np.int64)


# ------------------------------------------------------------------ evaluator


@dataclass
class PolicyResult:
    """One policy's decisions for a frame. Only rows that are not "not eligible" are stored
    (`idx`), so 200 policies over a million rows stay small; the dense views are built on demand."""

    policy: ir.Policy
    n: int
    idx: np.ndarray  # int64 row positions with status eligible or undetermined
    status_sparse: np.ndarray  # int8 Status at idx
    amount_sparse: np.ndarray  # int64 fen at idx
    missing_sparse: np.ndarray | None  # uint64 tag bits at idx (None: nothing undetermined)
    failed_mask: np.ndarray | None  # dense uint64 over condition order; None unless asked for
    tags: tuple[str, ...] = ()  # the names of the missing-tag bits

    @property
    def status(self) -> np.ndarray:
        out = np.zeros(self.n, np.int8)
        out[self.idx] = self.status_sparse
        return out

    @property
    def amount_fen(self) -> np.ndarray:
        out = np.zeros(self.n, np.int64)
        out[self.idx] = self.amount_sparse
        return out

    @property
    def missing_mask(self) -> np.ndarray | None:
        if self.missing_sparse is None:
            return None
        out = np.zeros(self.n, np.uint64)
        out[self.idx] = self.missing_sparse
        return out

    def counts(self) -> tuple[int, int, int]:
        """(eligible, undetermined, not eligible)."""
        e = int((self.status_sparse == T).sum())
        u = len(self.idx) - e
        return e, u, self.n - e - u


@dataclass
class _Amount:
    fen: np.ndarray
    unknown: np.ndarray | None  # bool
    mask: np.ndarray | None = None  # uint64 missing, filled on demand


class Evaluator:
    """Evaluates policies over one block of rows (Rows). Each distinct sub-condition is computed
    once per block and kept only for that block: memory is bounded by the block, not the frame."""

    def __init__(self, cols: Columns | Rows, as_of: dt.date, tags: tuple[str, ...] | None = None,
                 parent: Evaluator | None = None, positions: np.ndarray | None = None) -> None:
        self.cols = cols
        self.n = self.cols.n
        self.as_of = as_of
        self.memo: dict[object, np.ndarray] = {}
        # a candidates-only evaluator reuses its block's sub-conditions, taken at its positions
        self.parent, self.positions = parent, positions
        # one bit per tag across every policy of the run, when they fit in 64: then missing
        # masks and amounts are shared between policies like the sub-conditions are
        self.global_tags = tags if tags is not None and len(tags) <= 64 else None
        self.global_bits = {t: i for i, t in enumerate(self.global_tags)} if self.global_tags else None
        self.mask_memo: dict[Any, np.ndarray] = {}

    def candidates(self, idx: np.ndarray) -> Evaluator:
        """An evaluator over some rows of this block: amounts are computed only where a policy's
        conditions did not fail (about 1-2 % of rows on a real library)."""
        assert isinstance(self.cols, Rows)
        return Evaluator(self.cols.rows(idx), self.as_of, self.global_tags, parent=self, positions=idx)

    # ---------------------------------------------------------------- values
    def value(self, e: ir.Expr) -> Vec:
        match e:
            case ir.Tag():
                return self.cols.get(e)
            case ir.Num(value=v) | ir.Str(value=v) | ir.BoolLit(value=v):
                return _Scalar(v)
            case ir.DateLit(value=v):
                return _Scalar((v - EPOCH).days)
            case ir.Arith(op="*", left=left, right=ir.Num(value=k)):
                a = self.num(left)
                return _Num(a.v * int(k), a.scale, a.null)
            case ir.Arith(op=op, left=left, right=right):
                a, b = self.num(left), self.num(right)
                scale = max(a.scale, b.scale)
                av, bv = _rescale(a.v, scale - a.scale), _rescale(b.v, scale - b.scale)
                return _Num(av + bv if op == "+" else av - bv, scale, _or_null(a.null, b.null))
            case ir.Elapsed(unit=unit, arg=arg):
                d = self.value(arg)
                assert isinstance(d, _Date)
                if unit is ir.ElapsedUnit.DAYS:
                    out = (self.as_of - EPOCH).days - d.days
                else:
                    y, m, day = _ymd(d)
                    now = self.as_of
                    if unit is ir.ElapsedUnit.MONTHS:
                        out = (now.year * 12 + now.month) - (y * 12 + m) - (now.day < day)
                    else:
                        out = now.year - y - ((now.month < m) | ((now.month == m) & (now.day < day)))
                return _Num(np.asarray(out, dtype=np.int64), 0, d.null)
        raise UnsupportedConstruct(f"vectorized backend: value {type(e).__name__}")

    def num(self, e: ir.Expr) -> _Num:
        v = self.value(e)
        if isinstance(v, _Scalar):
            assert isinstance(v.value, Decimal)
            s = ir.decimal_scale(v.value)
            return _Num(np.full(self.n, ir.scaled_int(v.value, s), np.int64), s, None)
        assert isinstance(v, _Num), e
        return v

    # ---------------------------------------------------------------- predicates
    def tri(self, p: ir.Pred) -> np.ndarray:
        hit = self.memo.get(p)
        if hit is None:
            above = self.parent.memo.get(p) if self.parent is not None else None
            hit = above[self.positions] if above is not None else self._tri(p)
            self.memo[p] = hit
        return hit

    def _tri(self, p: ir.Pred) -> np.ndarray:
        match p:
            case ir.And(items=items):
                out = self.tri(items[0])
                for i in items[1:]:
                    out = np.minimum(out, self.tri(i))
                return out
            case ir.Or(items=items):
                out = self.tri(items[0])
                for i in items[1:]:
                    out = np.maximum(out, self.tri(i))
                return out
            case ir.Not(item=item):
                return (T - self.tri(item)).astype(np.int8)
            case ir.IsNull(expr=e, negated=neg):
                v = self.value(e)
                null = getattr(v, "null", None)
                isnull = null if null is not None else np.zeros(self.n, bool)
                return np.where(isnull != neg, T, F).astype(np.int8)
            case ir.Truthy(expr=e):
                v = self.value(e)
                assert isinstance(v, _Bool)
                return self._finish(v.v, v.null)
            case ir.Const(value=c):
                return np.full(self.n, T if c else F, np.int8)
            case ir.Within() | ir.Growth():
                return self.tri(p.lowered())
            case ir.Compare(op=op, left=left, right=right):
                return self._compare(op, left, right)
            case ir.Between(expr=e, low=lo, high=hi):
                return np.minimum(self._compare(">=", e, lo), self._compare("<=", e, hi))
            case ir.InSet(expr=e, values=values, negated=neg):
                v = self.value(e)
                if isinstance(v, _Cat):
                    members = frozenset(str(x.value) for x in values)
                    hit = self._cat_lookup(v, e, ("in", members), lambda c: c in members)
                    if ir.is_code(e):
                        return self._code_test(v, hit, e, tuple(members), negated=neg)
                else:
                    n = self.num(e)
                    hit = np.zeros(self.n, bool)
                    for x in values:
                        assert isinstance(x.value, Decimal)
                        hit |= self._cmp_literal("==", n, x.value)
                return self._finish(hit != neg, getattr(v, "null", None))
            case ir.Under(expr=e, codes=codes):
                v = self.value(e)
                assert isinstance(v, _Cat) and isinstance(e, ir.Tag) and e.type is not None
                prefixes = tuple(ir.code_prefix(c, e.type.hierarchy) for c in codes)
                hit = self._cat_lookup(v, e, ("under", prefixes), lambda c: c.startswith(prefixes))
                return self._code_test(v, hit, e, codes)
        raise UnsupportedConstruct(f"vectorized backend: predicate {type(p).__name__}")

    def _code_test(self, v: _Cat, hit: np.ndarray, e: ir.Expr, codes: tuple[str, ...],
                   negated: bool = False) -> np.ndarray:
        """A test on a code tag: unknown where the value is a level above the codes tested."""
        assert isinstance(e, ir.Tag) and e.type is not None
        out = self._finish(hit != negated, v.null)
        coarser = frozenset(ir.coarser_codes(codes, e.type.hierarchy))
        if coarser:
            vague = self._cat_lookup(v, e, ("in", coarser), lambda c: c in coarser) & ~hit
            np.putmask(out, vague, U)
        return out

    @staticmethod
    def _finish(hit: np.ndarray, null: np.ndarray | None) -> np.ndarray:
        """Kleene values from a boolean hit and the rows where it is unknown: 2·hit, 1 on nulls."""
        if null is None:
            return hit.view(np.int8) << 1
        return ((hit & ~null).view(np.int8) << 1) | null.view(np.int8)

    def _cat_lookup(self, v: _Cat, e: ir.Expr, key: object, pred: Any) -> np.ndarray:
        """Rows whose category satisfies pred: decided once per distinct category (and cached for
        every block), then gathered by code."""
        name = e.name if isinstance(e, ir.Tag) else repr(e)
        lut = self.cols.luts.get((name, key))
        if lut is None:
            lut = np.zeros(len(v.cats) + 1, dtype=bool)  # the extra slot serves code -1
            for i, c in enumerate(v.cats):
                lut[i] = bool(pred(c))
            self.cols.luts[(name, key)] = lut
        return lut[v.codes]

    def _num_cmp(self, op: str, a: _Num, b: _Num) -> np.ndarray:
        scale = max(a.scale, b.scale)
        return _cmp(op, _rescale(a.v, scale - a.scale), _rescale(b.v, scale - b.scale))

    @staticmethod
    def _cmp_literal(op: str, a: _Num, value: Decimal) -> np.ndarray:
        """A column against a literal: the literal is scaled, not the column (when it can be exactly)."""
        s = ir.decimal_scale(value)
        if s <= a.scale:
            return _cmp(op, a.v, ir.scaled_int(value, a.scale))
        return _cmp(op, _rescale(a.v, s - a.scale), ir.scaled_int(value, s))

    def _compare(self, op: str, left: ir.Expr, right: ir.Expr) -> np.ndarray:
        a, b = self.value(left), self.value(right)
        if isinstance(a, _Scalar) and not isinstance(b, _Scalar):
            # keep the tag on the left: flip the operator
            a, b, op = b, a, {"<": ">", "<=": ">=", ">": "<", ">=": "<="}.get(op, op)
            left, right = right, left
        null = _or_null(getattr(a, "null", None), getattr(b, "null", None))
        if isinstance(a, _Num):
            if isinstance(b, _Scalar):
                assert isinstance(b.value, Decimal)
                return self._finish(self._cmp_literal(op, a, b.value), null)
            return self._finish(self._num_cmp(op, a, self.num(right)), null)
        if isinstance(a, _Date):
            other = b.value if isinstance(b, _Scalar) else b.days  # type: ignore[union-attr]
            return self._finish(_cmp(op, a.days, other), null)
        if isinstance(a, _Bool):
            other = b.value if isinstance(b, _Scalar) else b.v  # type: ignore[union-attr]
            return self._finish(_cmp(op, a.v, other), null)
        if isinstance(a, _Cat):
            if isinstance(b, _Scalar):
                target = str(b.value)
                hit = self._cat_lookup(a, left, ("==", target), lambda c: c == target)
                if ir.is_code(left):
                    return self._code_test(a, hit, left, (target,), negated=op != "==")
                return self._finish(hit if op == "==" else ~hit, null)
            assert isinstance(b, _Cat)
            sa = np.append(a.cats, "")[a.codes]
            sb = np.append(b.cats, "")[b.codes]
            return self._finish(_cmp(op, sa, sb), null)
        raise UnsupportedConstruct(f"vectorized backend: comparison of {type(a).__name__}")

    # ---------------------------------------------------------------- missing masks
    def missing_mask(self, p: ir.Pred, bits: dict[str, int]) -> np.ndarray:
        """uint64 per row: the tags (bit per `bits`) whose absence makes `p` unknown."""
        return self._shared(self.mask_memo, p, bits, self._missing_mask)

    def _missing_mask(self, p: ir.Pred, bits: dict[str, int]) -> np.ndarray:
        t = self.tri(p)
        unknown = t == U
        if not unknown.any():
            return np.zeros(self.n, np.uint64)
        match p:
            case ir.And(items=items) | ir.Or(items=items):
                out = np.zeros(self.n, np.uint64)
                for i in items:
                    out |= self.missing_mask(i, bits)
            case ir.Not(item=item):
                out = self.missing_mask(item, bits)
            case ir.Within() | ir.Growth():
                out = self.missing_mask(p.lowered(), bits)
            case _:
                out = self.null_bits(p, bits)
                if any(ir.is_code(c) for c in ir.children(p)):
                    # unknown with nothing missing: a code known too coarsely needs that tag
                    every = self.null_bits_all(p, bits)
                    out = np.where(out == 0, every, out)
        return np.where(unknown, out, np.uint64(0))

    @staticmethod
    def null_bits_all(node: object, bits: dict[str, int]) -> np.uint64:
        out = np.uint64(0)
        for name in ir.tags_of(node):
            out |= np.uint64(1) << np.uint64(bits[name])
        return out

    def null_bits(self, node: object, bits: dict[str, int]) -> np.ndarray:
        out = np.zeros(self.n, np.uint64)
        for name in ir.tags_of(node):
            null = self.cols.null_of(name)
            if null is not None:
                out |= null.astype(np.uint64) << np.uint64(bits[name])
        return out

    # ---------------------------------------------------------------- amounts
    def amount(self, f: ir.Formula, bits: dict[str, int]) -> _Amount:
        return self._amount(f, bits)

    def _shared(self, memo: dict[Any, Any], node: object, bits: dict[str, int], compute: Any) -> Any:
        """Compute once per frame and node, when the bits are the run's shared ones."""
        if bits is not self.global_bits:
            return compute(node, bits)
        if node not in memo:
            memo[node] = compute(node, bits)
        return memo[node]

    def _amount(self, f: ir.Formula, bits: dict[str, int]) -> _Amount:
        match f:
            case ir.Fixed(amount=fixed):
                return _Amount(np.full(self.n, ir.scaled_int(fixed, 2), np.int64), None)
            case ir.PerUnit(quantity=q, rate=rate):
                n = self.num(q)
                fen = _div_round_half_up(n.v, ir.scaled_int(rate, 2), 10**n.scale)
                return self._with_nulls(fen, n.null, q, bits)
            case ir.Percent(base=b, rate=rate):
                n = self.num(b)
                mult, den = ir.percent_fraction(rate, n.scale)
                fen = _div_round_half_up(n.v, mult, den)
                return self._with_nulls(fen, n.null, b, bits)
            case ir.Tiers(measure=m, tiers=tiers):
                n = self.num(m)
                conds = [self._cmp_literal(">=", n, t.at_least) for t in tiers]
                fen = np.select(conds, [np.int64(ir.scaled_int(t.amount, 2)) for t in tiers], np.int64(0))
                return self._with_nulls(fen.astype(np.int64), n.null, m, bits)
            case ir.Cases(cases=cases, otherwise=otherwise):
                remaining = np.ones(self.n, bool)
                fen = np.zeros(self.n, np.int64)
                unknown = np.zeros(self.n, bool)
                mask = np.zeros(self.n, np.uint64)
                for c in cases:
                    t = self.tri(c.when)
                    blocked = remaining & (t == U)
                    if blocked.any():
                        unknown |= blocked
                        mask |= np.where(blocked, self.missing_mask(c.when, bits), np.uint64(0))
                    take = remaining & (t == T)
                    if take.any():
                        self._merge(self.amount(c.formula, bits), take, fen, unknown, mask)
                    remaining &= t == F
                if remaining.any():
                    self._merge(self.amount(otherwise, bits), remaining, fen, unknown, mask)
                return _Amount(fen, unknown if unknown.any() else None, mask)
            case ir.Sum(parts=parts):
                fen = np.zeros(self.n, np.int64)
                unknown = np.zeros(self.n, bool)
                mask = np.zeros(self.n, np.uint64)
                for part in parts:
                    self._merge(self.amount(part, bits), np.ones(self.n, bool), fen, unknown, mask, add=True)
                return _Amount(fen, unknown if unknown.any() else None, mask)
            case ir.Clamp(formula=inner, floor=lo, cap=hi):
                inner_amount = self.amount(inner, bits)
                fen = inner_amount.fen
                if lo is not None:
                    fen = np.maximum(fen, ir.scaled_int(lo, 2))
                if hi is not None:
                    fen = np.minimum(fen, ir.scaled_int(hi, 2))
                return _Amount(fen, inner_amount.unknown, inner_amount.mask)
        raise UnsupportedConstruct(f"vectorized backend: formula {type(f).__name__}")

    def _with_nulls(self, fen: np.ndarray, null: np.ndarray | None, node: object, bits: dict[str, int]) -> _Amount:
        if null is None:
            return _Amount(fen, None)
        return _Amount(fen, null, np.where(null, self.null_bits(node, bits), np.uint64(0)))

    @staticmethod
    def _merge(a: _Amount, where: np.ndarray, fen: np.ndarray, unknown: np.ndarray, mask: np.ndarray,
               add: bool = False) -> None:
        if add:
            fen += np.where(where, a.fen, 0)
        else:
            fen[where] = a.fen[where]
        if a.unknown is not None:
            hit = where & a.unknown
            unknown |= hit
            if a.mask is not None:
                mask |= np.where(hit, a.mask, np.uint64(0))

    # ---------------------------------------------------------------- policies
    def policy(self, policy: ir.Policy, explain_failures: bool = False, missing: bool = True) -> PolicyResult:
        n = self.n
        empty = np.zeros(0, np.int64)
        policy = ir.at(policy, self.as_of)
        if not policy.in_force(self.as_of):
            failed = np.zeros(n, np.uint64) if explain_failures else None
            return PolicyResult(policy, n, empty, np.zeros(0, np.int8), empty, None, failed)
        if self.global_bits is not None:
            bits, tags = self.global_bits, self.global_tags or ()
        else:
            tags = ir.policy_tags(policy)
            bits = {t: i for i, t in enumerate(tags)}
        tris = [self.tri(c.pred) for c in policy.conditions]
        cond = tris[0] if tris else np.full(n, T, np.int8)
        for t in tris[1:]:
            cond = np.minimum(cond, t)
        idx = np.flatnonzero(cond != F)
        failed = None
        if explain_failures:
            failed = np.zeros(n, np.uint64)
            for i, t in enumerate(tris):
                failed |= (t == F).astype(np.uint64) << np.uint64(i)
        if not len(idx):
            return PolicyResult(policy, n, empty, np.zeros(0, np.int8), empty, None, failed, tags)
        amt = self.candidates(idx).amount(policy.benefit, bits)  # only where conditions did not fail
        status = cond[idx]
        fen = np.maximum(amt.fen, 0)
        if amt.unknown is not None:
            status = np.where((status == T) & amt.unknown, U, status).astype(np.int8)
            fen = np.where(amt.unknown, 0, fen)
        mask = None
        und = status == U
        if missing and und.any():
            # missing tags are named on the undetermined rows only (about 0.5 % of a block per
            # policy): over the whole block they cost 5x the decisions themselves
            at = np.flatnonzero(und)
            sub = self.candidates(idx[at])
            named = np.zeros(len(at), np.uint64)
            for c in policy.conditions:
                named |= sub.missing_mask(c.pred, bits)
            mask = np.zeros(len(idx), np.uint64)
            mask[at] = named
            if amt.unknown is not None and amt.mask is not None:
                mask |= np.where(und, amt.mask, np.uint64(0))
        return PolicyResult(policy, n, idx, status, fen.astype(np.int64), mask, failed, tags)


def _cmp(op: str, a: object, b: object) -> np.ndarray:
    if op == "==":
        return np.asarray(a == b)
    if op == "!=":
        return np.asarray(a != b)
    if op == "<":
        return np.asarray(a < b)  # type: ignore[operator]
    if op == "<=":
        return np.asarray(a <= b)  # type: ignore[operator]
    if op == ">":
        return np.asarray(a > b)  # type: ignore[operator]
    return np.asarray(a >= b)  # type: ignore[operator]


@dataclass
class MatchResult:
    """Decisions for every (enterprise, policy) pair of one frame."""

    key_column: pd.Series | None  # enterprise keys (credit codes), one per row
    n: int
    as_of: dt.date
    results: list[PolicyResult] = field(default_factory=list)

    @property
    def keys(self) -> np.ndarray:
        """Keys as an object array, built only when asked for (10^6 Python strings cost time)."""
        if self.key_column is None:
            return np.arange(self.n).astype(object)
        return self.key_column.to_numpy(dtype=object)

    def to_frame(self, statuses: Iterable[Status] | None = None, sort: bool = False) -> pd.DataFrame:
        """The columns of the results contract (results.py): credit_code, policy, version,
        status, amount_fen, missing, failed, with `statuses` only (default all). Rows follow
        the policies and the frame's rows; `sort` orders them as the contract does, by policy
        then credit code."""
        c = self._columns(statuses, sort)

        def text(codes: np.ndarray, labels: list[str]) -> pd.Series:
            return pd.Series(np.array(labels, dtype=object)[codes], dtype=object, copy=False)  # not pandas 3's "str"

        return pd.DataFrame({
            "credit_code": pd.Series(self.keys[c.rows], dtype=object, copy=False),
            "policy": text(c.policy, c.policy_ids),
            "version": c.version,
            "status": pd.Categorical.from_codes(c.status, categories=STATUS_LABELS),
            "amount_fen": c.fen,
            "missing": text(c.missing, c.missing_labels),
            "failed": text(c.failed, c.failed_labels),
        })

    def to_arrow(self, statuses: Iterable[Status] | None = None) -> Any:
        """The same rows as to_frame(statuses, sort=True), as an Arrow table: texts are built by
        Arrow from each distinct label and the key column, no Python string per row (what a
        province's file is written from)."""
        import pyarrow as pa

        c = self._columns(statuses, True)
        keys = pa.array(self.key_column) if self.key_column is not None else pa.array(self.keys.astype(str))

        def text(codes: np.ndarray, labels: list[str]) -> Any:
            return pa.DictionaryArray.from_arrays(pa.array(codes, pa.int32()), pa.array(labels, pa.string())) \
                .cast(pa.string())

        return pa.table({
            "credit_code": keys.take(pa.array(c.rows)).cast(pa.string()),
            "policy": text(c.policy, c.policy_ids),
            "version": pa.array(c.version, pa.int64()),
            "status": text(c.status.astype(np.int32), list(STATUS_LABELS)),
            "amount_fen": pa.array(c.fen, pa.int64()),
            "missing": text(c.missing, c.missing_labels),
            "failed": text(c.failed, c.failed_labels),
        })

    def _columns(self, statuses: Iterable[Status] | None, sort: bool) -> _Columns:
        """The rows of to_frame as integer columns; texts as codes into label lists. Rows are put
        in credit-code order by one rank per enterprise (ints), not by sorting strings per pair."""
        wanted = frozenset(Status) if statuses is None else frozenset(statuses)
        order: np.ndarray
        if not sort:
            order = np.arange(self.n)
        elif self.key_column is not None:  # pandas sorts Arrow strings 4x faster than numpy sorts str objects
            order = self.key_column.argsort(kind="stable").to_numpy()
        else:
            order = np.argsort(self.keys, kind="stable")
        rank = np.empty(self.n, np.int64)
        rank[order] = np.arange(self.n)
        out = _Columns()
        parts: dict[str, list[np.ndarray]] = {k: [] for k in ("rows", "policy", "version", "status", "fen",
                                                               "missing", "failed")}
        missing_at: dict[str, int] = {}
        failed_at: dict[str, int] = {}
        for r in sorted(self.results, key=lambda r: r.policy.id) if sort else self.results:
            if Status.NOT_ELIGIBLE in wanted:
                rows = order
                status, fen, missing = r.status[rows], r.amount_fen[rows], r.missing_mask
                missing = None if missing is None else missing[rows]
            else:
                o = np.argsort(rank[r.idx], kind="stable") if sort else np.arange(len(r.idx))
                rows, status, fen = r.idx[o], r.status_sparse[o], r.amount_sparse[o]
                missing = None if r.missing_sparse is None else r.missing_sparse[o]
            if len(wanted) < len(Status) and not wanted >= {Status.ELIGIBLE, Status.UNDETERMINED}:
                keep = np.isin(status, [int(s) for s in wanted])
                rows, status, fen = rows[keep], status[keep], fen[keep]
                missing = None if missing is None else missing[keep]
            parts["rows"].append(rows)
            parts["policy"].append(np.full(len(rows), len(out.policy_ids), dtype=np.int32))
            out.policy_ids.append(r.policy.id)
            parts["version"].append(np.full(len(rows), r.policy.version, dtype=np.int64))
            parts["status"].append(status)
            parts["fen"].append(fen)
            parts["missing"].append(_codes(missing, r.tags, np.arange(len(rows)), "", missing_at, out.missing_labels))
            parts["failed"].append(_codes(r.failed_mask, tuple(c.id for c in r.policy.conditions), rows,
                                          ir.NOT_IN_FORCE if not r.policy.in_force(self.as_of) else "",
                                          failed_at, out.failed_labels))
        for name, dtype in (("rows", np.int64), ("policy", np.int32), ("version", np.int64), ("status", np.int8),
                            ("fen", np.int64), ("missing", np.int32), ("failed", np.int32)):
            setattr(out, name, np.concatenate(parts[name]).astype(dtype, copy=False) if parts[name]
                    else np.zeros(0, dtype))
        return out


@dataclass
class _Columns:
    rows: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    policy: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    version: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    status: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int8))
    fen: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    missing: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    failed: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    policy_ids: list[str] = field(default_factory=list)
    missing_labels: list[str] = field(default_factory=list)
    failed_labels: list[str] = field(default_factory=list)


def _codes(mask: np.ndarray | None, names: tuple[str, ...], idx: np.ndarray, default: str,
           seen: dict[str, int], labels: list[str]) -> np.ndarray:
    """Bit masks at idx as codes into `labels` (comma-joined names; `default` for no bit), each
    distinct mask decoded once and each label stored once (`seen`: label -> code)."""
    def code(label: str) -> int:
        if label not in seen:
            seen[label] = len(labels)
            labels.append(label)
        return seen[label]

    out = np.full(len(idx), code(default), dtype=np.int32)
    if mask is None:
        return out
    m = mask[idx]
    set_ = np.flatnonzero(m)  # most rows name nothing (eligible rows, conditions that held): left as is
    if len(set_):
        uniq, inverse = np.unique(m[set_], return_inverse=True)
        at = np.array([code(",".join(n for i, n in enumerate(names) if int(u) >> i & 1) or default)
                       for u in uniq.tolist()], dtype=np.int32)
        out[set_] = at[inverse]
    return out


BLOCK_ROWS = 1 << 17  # rows per block: measured best of 2^15..2^18 (2^15 +40 % time; 2^18 same, more memory)


def _joined(parts: list[PolicyResult], starts: list[int], n: int) -> PolicyResult:
    """One policy's results over the whole frame from its results per block."""
    first = parts[0]
    if len(parts) == 1:
        return first
    idx = np.concatenate([p.idx + s for p, s in zip(parts, starts)])
    missing = None
    if any(p.missing_sparse is not None for p in parts):
        missing = np.concatenate([p.missing_sparse if p.missing_sparse is not None
                                  else np.zeros(len(p.idx), np.uint64) for p in parts])
    failed = None if first.failed_mask is None else np.concatenate([p.failed_mask for p in parts])  # type: ignore[misc]
    return PolicyResult(first.policy, n, idx, np.concatenate([p.status_sparse for p in parts]),
                        np.concatenate([p.amount_sparse for p in parts]), missing, failed, first.tags)


def match(df: pd.DataFrame, policies: Iterable[ir.Policy], as_of: dt.date, key: str = "credit_code",
          explain_failures: bool = True, missing: bool = True, block_rows: int = BLOCK_ROWS,
          threads: int | None = None) -> MatchResult:
    """Evaluate every policy against every row of a storage frame. `explain_failures` adds which
    conditions failed; `missing` adds which tags an undetermined pair lacks (both cost time).

    Rows are evaluated in blocks: every sub-condition of a block is freed before the next block
    starts, so memory grows with the block and the (sparse) results, not with the frame. Blocks
    run on `threads` threads (default: one per core)."""
    policies = [ir.at(p, as_of) for p in policies]
    every_tag = tuple(sorted({t for p in policies for t in ir.policy_tags(p)}))
    cols = Columns(df)
    stack: list[object] = [x for p in policies for x in (*(c.pred for c in p.conditions), p.benefit)]
    while stack:  # every column converted before the blocks start, so threads only read
        node = stack.pop()
        if isinstance(node, ir.Tag):
            cols.get(node)
        stack.extend(ir.children(node))
    n = len(df)
    starts = list(range(0, n, block_rows)) or [0]

    def block(start: int) -> list[PolicyResult]:
        ev = Evaluator(cols.rows(slice(start, min(n, start + block_rows))), as_of, every_tag)
        return [ev.policy(p, explain_failures, missing) for p in policies]

    workers = min(len(starts), threads if threads is not None else (os.cpu_count() or 1))
    if workers > 1:
        # numpy releases the GIL inside each operation on a block, so blocks overlap on the cores
        with ThreadPoolExecutor(workers) as pool:
            per_block = list(pool.map(block, starts))
    else:
        per_block = [block(s) for s in starts]
    result = MatchResult(df[key] if key in df.columns else None, n, as_of)
    result.results = [_joined([b[i] for b in per_block], starts, n) for i in range(len(policies))]
    return result
