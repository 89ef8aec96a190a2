"""Render conditions and formulas back to readable Chinese for officials and enterprises."""

from __future__ import annotations

from decimal import Decimal

from .. import ir
from ..data.codes import code_name
from ..data.tags import TagDictionary
from ..ir import Kind

OPS_ZH = {"==": "等于", "!=": "不等于", "<": "低于", "<=": "不超过", ">": "超过", ">=": "不低于"}
UNIT_ZH = {ir.ElapsedUnit.YEARS: "年", ir.ElapsedUnit.MONTHS: "个月", ir.ElapsedUnit.DAYS: "天"}


def fmt_decimal(v: Decimal) -> str:
    """Plain text of an exact number; whole multiples of 万/亿 use those units."""
    def plain(x: Decimal) -> str:
        text = format(x, "f")
        return text.rstrip("0").rstrip(".") if "." in text else text

    if v == v.to_integral_value() and abs(v) >= 10000:
        if v % 100000000 == 0:
            return plain(v / 100000000) + "亿"
        if v % 10000 == 0:
            return plain(v / 10000) + "万"
    return plain(v)


def fmt_money(v: Decimal) -> str:
    """Yuan for people: 20万元, 1,500元, 12,345.68元."""
    if v == v.to_integral_value():
        if abs(v) >= 10000 and v % 10000 == 0:
            return fmt_decimal(v) + "元"
        return f"{int(v):,}元"
    return f"{v:,.2f}元"


def fmt_rate(v: Decimal) -> str:
    return fmt_decimal(v * 100) + "%"


class Renderer:
    def __init__(self, dictionary: TagDictionary) -> None:
        self.d = dictionary

    def label(self, name: str) -> str:
        t = self.d.resolve(name)
        return t.label if t else name

    def unit(self, e: ir.Expr) -> str:
        if isinstance(e, ir.Tag) and e.type is not None:
            if e.type.kind is Kind.MONEY:
                return "元"
            return e.type.unit
        if isinstance(e, ir.Elapsed):
            return UNIT_ZH[e.unit]
        if isinstance(e, ir.Arith):
            return self.unit(e.left) or self.unit(e.right)
        if isinstance(e, ir.Over):
            return self.unit(e.tag)
        return ""

    def value(self, e: ir.Expr, unit: str = "") -> str:
        match e:
            case ir.Tag(name=name, period=p) if p is not None:  # 上季度 + 季度纳税额: 上季度纳税额
                return f"{p.zh}{self.label(name).removeprefix(p.kind.zh)}"
            case ir.Tag(name=name):
                return self.label(name)
            case ir.Num(value=v):
                if unit == "元":
                    return fmt_money(v)
                return fmt_decimal(v) + (unit if unit in ("%",) else (f"{unit}" if unit else ""))
            case ir.Param(name=name, values=values):
                steps = "，".join(f"{v.start.isoformat()}起{self.value(ir.Num(v.value), unit)}" for v in values)
                return f"{name}（{steps}）"
            case ir.Over(fn=fn, tag=tag, kind=kind, count=n):
                span = f"近{n}{'年' if kind.value == 'year' else '个季度' if kind.value == 'quarter' else '个月'}"
                label = self.label(tag.name)
                return {"sum": f"{span}{label}合计", "min": f"{span}{label}的最低值",
                        "max": f"{span}{label}的最高值",
                        "each": f"{span}每{'年' if kind.value == 'year' else '季度' if kind.value == 'quarter' else '月'}的{label}"}[fn.value]
            case ir.Arith(op="*", left=left, right=right):
                return f"{self.value(left, unit)}×{self.value(right)}"
            case ir.Str(value=v):
                return f"“{v}”"
            case ir.DateLit(value=v):
                return f"{v.year}年{v.month}月{v.day}日"
            case ir.BoolLit(value=v):
                return "是" if v else "否"
            case ir.Arith(op=op, left=left, right=right):
                return f"{self.value(left, unit)}{'加' if op == '+' else '减'}{self.value(right, unit)}"
            case ir.Elapsed(unit=u, arg=arg):
                return f"自{self.value(arg)}起满{UNIT_ZH[u].lstrip('个')}数"
        return str(e)

    def pred(self, p: ir.Pred, top: bool = True) -> str:
        match p:
            case ir.And(items=items):
                s = "，且".join(self.pred(i, False) for i in items)
                return s if top else f"（{s}）"
            case ir.Or(items=items):
                s = "，或".join(self.pred(i, False) for i in items)
                return s if top else f"（{s}）"
            case ir.Not(item=ir.Truthy(expr=e)):
                return f"不属于{self.value(e)}"
            case ir.Not(item=item):
                return f"并非{self.pred(item, False)}"
            case ir.Truthy(expr=e):
                return f"属于{self.value(e)}"
            case ir.IsNull(expr=e, negated=neg):
                return f"{self.value(e)}{'已有数据' if neg else '无数据'}"
            case ir.Const(value=v):
                return "无其他条件" if v else "不符合（条件恒不成立）"
            case ir.Growth(op=op, cur=cur, base=base, rate=rate):
                return f"{self.value(cur)}较{self.value(base)}增长{OPS_ZH[op]}{fmt_rate(rate)}（以后者大于0为前提）"
            case ir.Within(arg=arg, count=n, unit=u):
                span = f"{n}{UNIT_ZH[u]}"
                return (f"{self.value(arg)}在评价日前{span}内（含评价日当天，不含恰满{span}之日；"
                        f"晚于评价日的不算）")
            case ir.Compare(op=op, left=ir.Elapsed(unit=u, arg=arg), right=right):
                word = {"<": "不满", "<=": "不超过", ">": "超过", ">=": "已满"}.get(op, OPS_ZH[op])
                return f"{self.value(arg)}至今{word}{self.value(right)}{UNIT_ZH[u]}"
            case ir.Compare(op=op, left=left, right=right):
                unit = self.unit(left) or self.unit(right)
                if isinstance(left, ir.Tag) and left.type is not None and left.type.kind is Kind.BOOL:
                    yes = isinstance(right, ir.BoolLit) and right.value == (op == "==")
                    return f"{'属于' if yes else '不属于'}{self.value(left)}"
                rhs = self.value(right, unit)
                if isinstance(left, ir.Tag) and left.type is not None and left.type.kind is Kind.CODE:
                    rhs = self.code(str(getattr(right, "value", "")), left.type.hierarchy)
                if isinstance(left, ir.Tag) and left.type is not None and left.type.kind is Kind.DATE:
                    word = {"<": "早于", "<=": "不晚于", ">": "晚于", ">=": "不早于"}.get(op, OPS_ZH[op])
                    return f"{self.value(left)}{word}{rhs}"
                return f"{self.value(left)}{OPS_ZH[op]}{rhs}"
            case ir.Between(expr=e, low=lo, high=hi):
                unit = self.unit(e)
                return f"{self.value(e)}在{self.value(lo, unit)}至{self.value(hi, unit)}之间（含）"
            case ir.InSet(expr=e, values=values, negated=neg):
                hier = e.type.hierarchy if isinstance(e, ir.Tag) and e.type else ""
                names = "、".join(self.code(str(v.value), hier) if hier else self.value(v) for v in values)
                return f"{self.value(e)}{'不' if neg else ''}为{names}"
            case ir.Under(expr=e, codes=codes):
                hier = e.type.hierarchy if isinstance(e, ir.Tag) and e.type else ""
                return f"{self.value(e)}属于{'、'.join(self.code(c, hier) for c in codes)}"
        return str(p)

    def code(self, code: str, hierarchy: str) -> str:
        name = code_name(code, hierarchy)
        return f"{name}（{code}）" if name else code

    def formula(self, f: ir.Formula) -> str:
        match f:
            case ir.Fixed(amount=a):
                return fmt_money(a)
            case ir.PerUnit(quantity=q, rate=rate):
                return f"按{self.value(q)}每{self.unit(q) or '单位'}{fmt_money(rate)}"
            case ir.Percent(base=b, rate=rate):
                return f"{self.value(b)}的{fmt_rate(rate)}"
            case ir.Tiers(measure=m, tiers=tiers):
                unit = self.unit(m)
                steps = "；".join(f"{self.value(m)}达到{self.value(ir.Num(t.at_least), unit)}的{fmt_money(t.amount)}"
                                 for t in tiers)
                return f"分档：{steps}；未达最低档的不予奖励"
            case ir.Cases(cases=cases, otherwise=otherwise):
                parts = [f"{self.pred(c.when)}的，{self.formula(c.formula)}" for c in cases]
                other = self.formula(otherwise)
                if not (isinstance(otherwise, ir.Fixed) and otherwise.amount == 0):
                    parts.append(f"其他情形，{other}")
                return "；".join(parts)
            case ir.Sum(parts=parts):
                return "，另加".join(self.formula(p) for p in parts)
            case ir.Clamp(formula=inner, floor=lo, cap=hi):
                s = self.formula(inner)
                if hi is not None:
                    s += f"，最高不超过{fmt_money(hi)}"
                if lo is not None:
                    s += f"，最低{fmt_money(lo)}"
                return s
        return str(f)
