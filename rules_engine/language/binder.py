"""Bind names to tags and type-check expressions against the tag dictionary."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from .. import ir
from ..data.codes import industry_code_problem
from ..data.tags import TagDef, TagDictionary
from ..errors import ExpressionError
from ..ir import Kind, TagType
from ..periods import PeriodKind

REGION_CODE = re.compile(r"^\d{6}$")
INDUSTRY_CODE = re.compile(r"^[A-T](\d{2}|\d{3}|\d{4})?$")

KIND_ZH = {
    Kind.NUMBER: "数值", Kind.MONEY: "金额", Kind.DATE: "日期", Kind.BOOL: "是/否",
    Kind.CATEGORY: "类别", Kind.CODE: "代码", Kind.TEXT: "文本",
}


@dataclass(frozen=True, slots=True)
class VType:
    """The type of a bound value expression; `literal` for constants."""

    kind: Kind
    literal: bool = False
    tag: TagType | None = None
    name: str = ""


class _Binder:
    def __init__(self, dictionary: TagDictionary, text: str, params: Mapping[str, ir.Param] | None = None) -> None:
        self.d = dictionary
        self.text = text
        self.params = params or {}

    def err(self, msg: str, node: object, hint: str = "") -> ExpressionError:
        pos = getattr(node, "pos", 0)
        length = len(getattr(node, "name", "")) if isinstance(node, ir.Tag) else 1
        return ExpressionError(msg, self.text, pos, length, hint)

    # ------------------------------------------------------------- values
    def tag_def(self, node: ir.Tag) -> TagDef:
        tdef = self.d.resolve(node.name)
        if tdef is None or "@" in tdef.key:
            sugg = self.d.suggest(node.name)
            raise self.err(f"未知标签 {node.name!r}", node, f"是否指 {sugg}？" if sugg else "")
        return tdef

    def periodic(self, node: ir.Tag, kind: PeriodKind | None) -> TagDef:
        """A tag read for a period of `kind` (None: as a snapshot): the dictionary must agree."""
        tdef = self.tag_def(node)
        if kind is None and tdef.periodic:
            raise self.err(f"{tdef.key}（{tdef.label}）按{tdef.period.zh}报送，须写明期间",
                           node, f"如 {tdef.key}[{'上年' if tdef.period is PeriodKind.YEAR else '上季度' if tdef.period is PeriodKind.QUARTER else '上月'}]"
                           f" 或 {tdef.key}[2025]")
        if kind is not None and not tdef.periodic:
            raise self.err(f"{tdef.key}（{tdef.label}）不分期间，不能指定期间", node)
        if kind is not None and kind is not tdef.period:
            raise self.err(f"{tdef.key}（{tdef.label}）按{tdef.period.zh}报送，不能取{kind.zh}期间", node)
        return tdef

    def value(self, node: ir.Expr, top: bool = False) -> tuple[ir.Expr, VType]:
        match node:
            case ir.Tag(name=name, period=None) if name in self.params:
                return ir.Param(name, self.params[name].values, pos=node.pos), VType(Kind.NUMBER, literal=True)
            case ir.Tag(name=name, period=period):
                tdef = self.periodic(node, period.kind if period is not None else None)
                bound = ir.Tag(tdef.key, tdef.type, pos=node.pos, period=period)
                return bound, VType(tdef.kind, tag=tdef.type, name=tdef.key)
            case ir.Over(fn=fn, tag=tag, kind=pkind, count=count):
                tdef = self.periodic(tag, pkind)
                if fn is not ir.OverFn.SUM and not top:
                    raise self.err(f"{fn.value}(...) 只能直接用于比较（如 min(revenue, 近3年) >= 1000万）", node)
                if tdef.kind not in ir.NUMERIC_KINDS and fn is not ir.OverFn.EACH:
                    raise self.err(f"{fn.value}(...) 只能用于数值或金额，不能用于{KIND_ZH[tdef.kind]}", tag)
                bound_tag = ir.Tag(tdef.key, tdef.type, pos=tag.pos)
                return (ir.Over(fn, bound_tag, pkind, count, pos=node.pos),
                        VType(tdef.kind, tag=tdef.type, name=tdef.key))
            case ir.Num():
                return node, VType(Kind.NUMBER, literal=True)
            case ir.Str():
                return node, VType(Kind.TEXT, literal=True)
            case ir.DateLit():
                return node, VType(Kind.DATE, literal=True)
            case ir.BoolLit():
                return node, VType(Kind.BOOL, literal=True)
            case ir.Arith(op=op, left=left, right=right):
                lb, lt = self.value(left)
                rb, rt = self.value(right)
                for side, t in ((left, lt), (right, rt)):
                    if t.kind not in ir.NUMERIC_KINDS:
                        raise self.err(f"'{op}' 只能用于数值或金额，不能用于{KIND_ZH[t.kind]}", side)
                self.same_numeric(lt, rt, node)
                kind = Kind.MONEY if Kind.MONEY in (lt.kind, rt.kind) else Kind.NUMBER
                return ir.Arith(op, lb, rb, pos=node.pos), VType(kind, literal=lt.literal and rt.literal)
            case ir.Elapsed(unit=unit, arg=arg):
                ab, at = self.value(arg)
                if at.kind is not Kind.DATE:
                    raise self.err(f"{unit.value}_since() 的参数应为日期，而不是{KIND_ZH[at.kind]}", arg)
                return ir.Elapsed(unit, ab, pos=node.pos), VType(Kind.NUMBER)
        raise self.err("此处应为值", node)

    def at_operator(self, msg: str, node: object, op: str, hint: str = "") -> ExpressionError:
        """An error with the caret under the node's operator (found from the node's start)."""
        at = self.text.find(op, max(0, getattr(node, "pos", 0))) if op else -1
        if at < 0:
            return self.err(msg, node, hint)
        return ExpressionError(msg, self.text, at, len(op), hint)

    def same_numeric(self, a: VType, b: VType, node: object) -> None:
        if a.literal or b.literal:
            return
        if (a.kind is Kind.MONEY) != (b.kind is Kind.MONEY):
            op = getattr(node, "op", "between" if isinstance(node, ir.Between) else "")
            raise self.at_operator("金额不能与非金额的数值相加减或比较", node, op)

    # ------------------------------------------------------------- predicates
    def pred(self, node: ir.Pred) -> ir.Pred:
        match node:
            case ir.And(items=items):
                return ir.And(tuple(self.pred(i) for i in items), pos=node.pos)
            case ir.Or(items=items):
                return ir.Or(tuple(self.pred(i) for i in items), pos=node.pos)
            case ir.Not(item=item):
                return ir.Not(self.pred(item), pos=node.pos)
            case ir.Truthy(expr=e):
                b, t = self.value(e)
                if t.kind is not Kind.BOOL:
                    raise self.err(
                        f"{t.name or '该值'} 是{KIND_ZH[t.kind]}，不是是/否；请与某个值比较",
                        e, hint=f"例如 {t.name} > 0" if t.kind in ir.NUMERIC_KINDS else "",
                    )
                return ir.Truthy(b, pos=node.pos)
            case ir.IsNull(expr=e, negated=neg):
                b, _ = self.value(e)
                return ir.IsNull(b, negated=neg, pos=node.pos)
            case ir.Const():
                return node
            case ir.Growth(op=op, cur=cur, base=base, rate=rate):
                cb, ct = self.value(cur)
                bb, _ = self.value(base)
                if ct.kind not in ir.NUMERIC_KINDS:
                    raise self.err(f"growth(...) 只能用于数值或金额，不能用于{KIND_ZH[ct.kind]}", cur)
                assert isinstance(cb, ir.Tag) and isinstance(bb, ir.Tag)
                if cb == bb:
                    raise self.err("growth(...) 的两个期间相同", node)
                return ir.Growth(op, cb, bb, rate, pos=node.pos)
            case ir.Within(arg=arg, count=count, unit=unit):
                ab, at = self.value(arg)
                if at.kind is not Kind.DATE:
                    raise self.err(f"within 只能用于日期，不能用于{KIND_ZH[at.kind]}", arg)
                return ir.Within(ab, count, unit, pos=node.pos)
            case ir.Compare(op=op, left=left, right=right):
                lb, lt = self.value(left, top=True)
                rb, rt = self.value(right, top=True)
                overs = [x for x in (lb, rb) if isinstance(x, ir.Over) and x.fn is not ir.OverFn.SUM]
                if len(overs) > 1:
                    raise self.err("比较的两边不能都是按期间汇总的值", node)
                if overs and overs[0].fn in (ir.OverFn.MIN, ir.OverFn.MAX) and op in ("==", "!="):
                    raise self.at_operator(f"{overs[0].fn.value}(...) 只能用 >、>=、<、<= 比较", node, op)
                if lt.literal and rt.literal:
                    raise self.err("比较的两边至少要有一个标签", node)
                lb, rb = self.check_compare(op, lb, lt, rb, rt, node)
                return ir.Compare(op, lb, rb, pos=node.pos)
            case ir.Between(expr=e, low=lo, high=hi):
                eb, et = self.value(e)
                lob, lot = self.value(lo)
                hib, hit = self.value(hi)
                if et.kind not in (*ir.NUMERIC_KINDS, Kind.DATE):
                    raise self.err(f"between 只能用于数值、金额或日期，不能用于{KIND_ZH[et.kind]}", e)
                self.check_compare("<=", lob, lot, eb, et, node)
                self.check_compare("<=", eb, et, hib, hit, node)
                return ir.Between(eb, lob, hib, pos=node.pos)
            case ir.InSet(expr=e, values=values, negated=neg):
                eb, et = self.value(e)
                for v in values:
                    self.check_member(eb, et, v)
                if et.kind is Kind.CODE:
                    values = tuple(ir.Str(v.value if isinstance(v, ir.Str) else self.code_text(v), pos=v.pos)
                                   for v in values)
                return ir.InSet(eb, values, negated=neg, pos=node.pos)
            case ir.Under(expr=e, codes=codes):
                eb, et = self.value(e)
                if et.kind is not Kind.CODE or et.tag is None:
                    raise self.err("under 只能用于行政区划或行业代码标签", e)
                for c in codes:
                    self.check_code(c, et.tag.hierarchy, node)
                return ir.Under(eb, codes, pos=node.pos)
        raise self.err("此处应为条件", node)

    def code_text(self, v: ir.Num | ir.Str) -> str:
        return self.text[v.pos : v.pos + len(str(v.value))] if isinstance(v, ir.Num) else v.value

    def check_code(self, code: str, hierarchy: str, node: object) -> None:
        pattern = REGION_CODE if hierarchy == "region" else INDUSTRY_CODE
        if not pattern.match(code) or (hierarchy == "industry" and industry_code_problem(code)):
            example = "340200" if hierarchy == "region" else "C、C39、C391 或 C3911"
            at = self.text.find(code, max(0, getattr(node, "pos", 0)))
            raise ExpressionError(f"{code!r} 不是{'行政区划' if hierarchy == 'region' else '国民经济行业'}代码", self.text, max(at, 0), len(code),
                                  f"应为如 {example} 的代码" + (f"：{industry_code_problem(code)}" if hierarchy == "industry" and industry_code_problem(code) else ""))

    def check_member(self, eb: ir.Expr, et: VType, v: ir.Str | ir.Num) -> None:
        if et.kind is Kind.CATEGORY:
            if not isinstance(v, ir.Str):
                raise self.err("类别的取值要加引号", v)
            self.check_category(et, v)
        elif et.kind is Kind.CODE:
            assert et.tag is not None
            self.check_code(self.code_text(v), et.tag.hierarchy, v)
        elif et.kind in ir.NUMERIC_KINDS:
            if not isinstance(v, ir.Num):
                raise self.err("列表中此处应为数字", v)
        elif et.kind is Kind.TEXT:
            if not isinstance(v, ir.Str):
                raise self.err("列表中此处应为带引号的文字", v)
        else:
            raise self.err(f"in 不能用于{KIND_ZH[et.kind]}", eb)

    def check_category(self, et: VType, v: ir.Str) -> None:
        assert et.tag is not None
        if v.value not in et.tag.values:
            import difflib

            near = difflib.get_close_matches(v.value, et.tag.values, n=1, cutoff=0.3)
            hint = f"是否指 {near[0]!r}？" if near else ""
            raise self.err(
                f"{v.value!r} 不是 {et.name} 的可选值",
                v, hint + "可选值：" + "、".join(et.tag.values),
            )

    def check_compare(
        self, op: str, lb: ir.Expr, lt: VType, rb: ir.Expr, rt: VType, node: object
    ) -> tuple[ir.Expr, ir.Expr]:
        kinds = {lt.kind, rt.kind}
        ordered = op not in ("==", "!=")
        tag_t = rt if lt.literal else lt
        lit_t, lit = (lt, lb) if lt.literal else (rt, rb)
        if kinds <= set(ir.NUMERIC_KINDS):
            self.same_numeric(lt, rt, node)
            return lb, rb
        if kinds == {Kind.DATE}:
            return lb, rb
        if ordered:
            raise self.at_operator(f"{KIND_ZH[tag_t.kind]}没有大小之分，不能用 '{op}'；请用 == 或 !=", node,
                                   op if isinstance(node, ir.Compare) else "between")
        if tag_t.kind is Kind.BOOL and lit_t.kind is Kind.BOOL:
            return lb, rb
        if tag_t.kind is Kind.CATEGORY and lit_t.literal and isinstance(lit, ir.Str):
            self.check_category(tag_t, lit)
            return lb, rb
        if tag_t.kind is Kind.CODE and lit_t.literal and isinstance(lit, (ir.Str, ir.Num)):
            assert tag_t.tag is not None
            code = self.code_text(lit)
            self.check_code(code, tag_t.tag.hierarchy, node)
            as_str = ir.Str(code, pos=lit.pos)
            return (as_str, rb) if lt.literal else (lb, as_str)
        if tag_t.kind is Kind.TEXT and isinstance(lit, ir.Str):
            return lb, rb
        if lt.kind == rt.kind and not lt.literal and not rt.literal and lt.tag == rt.tag:
            return lb, rb
        raise self.at_operator(f"{KIND_ZH[lt.kind]}不能与{KIND_ZH[rt.kind]}比较", node,
                               op if isinstance(node, ir.Compare) else "between")


def bind_condition(pred: ir.Pred, dictionary: TagDictionary, text: str,
                   params: Mapping[str, ir.Param] | None = None) -> ir.Pred:
    return _Binder(dictionary, text, params).pred(pred)


def bind_value(
    expr: ir.Expr, dictionary: TagDictionary, text: str, kinds: tuple[Kind, ...], what: str,
    params: Mapping[str, ir.Param] | None = None,
) -> ir.Expr:
    """Bind a formula's value expression and require one of `kinds`."""
    b = _Binder(dictionary, text, params)
    bound, t = b.value(expr)
    if t.kind not in kinds:
        wanted = "或".join(KIND_ZH[k] for k in kinds)
        raise b.err(f"{what}应为{wanted}，而不是{KIND_ZH[t.kind]}", expr)
    if t.literal:
        raise b.err(f"{what}必须读取一个标签", expr)
    return bound


