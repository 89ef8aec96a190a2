"""Load policy files (YAML) into the IR, reporting every problem with file, line and field.

Scalars are read from the YAML node tree as text, so numbers are exact
(`0.1` is Decimal('0.1'), never a float) and every value keeps its position.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
from dataclasses import dataclass, field, replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

from .. import ir
from ..data.tags import TagDictionary
from ..data.values import coerce, parse_decimal
from ..errors import ExpressionError, PolicyLoadError, Problem, os_reason
from ..ir import Kind
from ..language.binder import bind_condition, bind_value
from ..language.parser import parse_condition, parse_value
from ..periods import parse_relative, slot, split_slot

ID_RE = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
STATUSES = {"eligible", "not_eligible", "undetermined"}
STATUS_ALIASES = {"符合": "eligible", "不符合": "not_eligible", "待补充": "undetermined", "待确认": "undetermined"}
MAX_TAGS_PER_POLICY = 63  # missing-tag sets are 64-bit masks in the vectorized backend
TOP_KEYS = {
    "id", "version", "title", "department", "summary", "contact", "basis", "tier", "valid_from",
    "valid_to", "status", "regions", "conditions", "benefit", "exclusive", "limit", "budget", "tests", "time_limit",
    "params",
}
PARAM_RE = re.compile(r"^[a-z][a-z0-9_]*$")
CONTRACTS_DIR = "contracts"  # policies/contracts/: contract templates and contracts (library/contracts.py), not policies
FORMULA_KEYS = ("fixed", "per_unit", "percent", "tiers", "cases", "sum")


class _Invalid(Exception):
    """Raised inside the loader to abandon one field; collected as a Problem."""

    def __init__(self, problem: Problem) -> None:
        self.problem = problem


@dataclass
class _File:
    path: str
    lines: list[str]
    problems: list[Problem] = field(default_factory=list)

    def problem(self, node: yaml.Node | None, fld: str, message: str, length: int = 0, hint: str = "") -> Problem:
        line, col = (node.start_mark.line + 1, node.start_mark.column + 1) if node is not None else (1, 1)
        src = self.lines[line - 1] if 0 < line <= len(self.lines) else ""
        if not length and node is not None and isinstance(node, yaml.ScalarNode):
            length = len(node.value) if node.style is None else len(node.value) + 2
        return Problem(self.path, line, col, fld, message, src, max(1, length), hint)

    def invalid(self, node: yaml.Node | None, fld: str, message: str, hint: str = "") -> _Invalid:
        return _Invalid(self.problem(node, fld, message, hint=hint))

    def expression_problem(self, node: yaml.ScalarNode, fld: str, exc: ExpressionError) -> Problem:
        """Map a position inside an expression string to the file's line and column."""
        eline, ecol = exc.line_col()
        if node.style in ("|", ">"):
            # block scalar: text starts on the next line, at the block's indentation
            line = node.start_mark.line + 1 + eline
            src = self.lines[line - 1] if line <= len(self.lines) else ""
            col = len(src) - len(src.lstrip(" ")) + ecol
        else:
            line = node.start_mark.line + eline
            quote = 1 if node.style in ("'", '"') else 0
            col = (node.start_mark.column + quote + ecol) if eline == 1 else ecol
            src = self.lines[line - 1] if line <= len(self.lines) else ""
        return Problem(self.path, line, col, fld, exc.message, src, exc.length, exc.hint)


MAX_PROBLEMS_PER_FILE = 50
EXCERPT = 100  # characters of the source line quoted around the problem


def _excerpt(p: Problem) -> Problem:
    """The problem quoting at most EXCERPT characters of its line, around the column (a 30 kB
    one-line flow list once made each of its 10,000 problems quote all of it: 451 MB). Done for
    the problems shown only: a 250 kB file of 87,000 broken cases spent 0.7 s excerpting them."""
    src, col = p.source_line, p.column
    if len(src) <= EXCERPT:
        return p
    start = max(0, min(col - 1 - EXCERPT // 3, len(src) - EXCERPT))
    head = "…" if start else ""
    cut = head + src[start:start + EXCERPT] + ("…" if start + EXCERPT < len(src) else "")
    length = max(1, min(p.length, EXCERPT - (col - 1 - start)))
    return replace(p, source_line=cut, length=length, shift=start - len(head))


# ------------------------------------------------------------------ node helpers


def _mapping(f: _File, node: yaml.Node, fld: str) -> dict[str, tuple[yaml.Node, yaml.Node]]:
    if not isinstance(node, yaml.MappingNode):
        raise f.invalid(node, fld, "此处应为映射（每行“键: 值”）")
    out: dict[str, tuple[yaml.Node, yaml.Node]] = {}
    for k, v in node.value:
        key = str(k.value)
        if key in out:
            raise f.invalid(k, f"{fld}.{key}" if fld else key, "键重复")
        out[key] = (k, v)
    return out


def _scalar(f: _File, node: yaml.Node, fld: str) -> str:
    if not isinstance(node, yaml.ScalarNode):
        raise f.invalid(node, fld, "此处应为单个值")
    return str(node.value)


def _is_null(node: yaml.Node) -> bool:
    return isinstance(node, yaml.ScalarNode) and node.style is None and node.value in ("", "~", "null", "Null", "NULL")


def _text(f: _File, m: dict[str, tuple[yaml.Node, yaml.Node]], key: str, fld: str, required: bool = True) -> str:
    if key not in m:
        if required:
            raise _Invalid(f.problem(None, f"{fld}{key}", f"缺少必填字段 '{key}'"))
        return ""
    value = _scalar(f, m[key][1], fld + key).strip()
    if required and not value:
        raise f.invalid(m[key][1], fld + key, "不能为空")
    return value


def _decimal(f: _File, node: yaml.Node, fld: str) -> Decimal:
    try:
        return parse_decimal(_scalar(f, node, fld))
    except ValueError as exc:
        raise f.invalid(node, fld, str(exc)) from None


def _money(f: _File, node: yaml.Node, fld: str) -> Decimal:
    value = _decimal(f, node, fld)
    if ir.decimal_scale(value) > 2:
        raise f.invalid(node, fld, f"金额（元）最多两位小数（到分），实为 {value}")
    if value < 0:
        raise f.invalid(node, fld, "金额不能为负数")
    return value


def _date(f: _File, node: yaml.Node, fld: str) -> dt.date:
    text = _scalar(f, node, fld)
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise f.invalid(node, fld, f"应为日期 YYYY-MM-DD，实为 {text!r}") from None


def _list(f: _File, node: yaml.Node, fld: str) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    raise f.invalid(node, fld, "此处应为列表（以“- ”开头的各行）")


# ------------------------------------------------------------------ parts


class _PolicyReader:
    def __init__(self, f: _File, d: TagDictionary) -> None:
        self.f = f
        self.d = d
        self.params: dict[str, ir.Param] = {}

    def read_params(self, node: yaml.Node) -> None:
        """`params: {threshold: [{from: 2026-01-01, value: 100万, basis: 合政〔2026〕6号 第九条}, ...]}`:
        numbers that change by date, each value with the date it takes effect and its legal basis."""
        for name, (kn, vn) in _mapping(self.f, node, "params").items():
            fld = f"params.{name}"
            try:
                if not PARAM_RE.match(name) or self.d.resolve(name) is not None:
                    raise self.f.invalid(kn, fld, f"参数名 {name!r} 应为小写英文、数字和下划线，且不能与标签同名")
                values: list[ir.ParamValue] = []
                for i, item in enumerate(_list(self.f, vn, fld)):
                    ifld = f"{fld}[{i + 1}]"
                    m = _mapping(self.f, item, ifld)
                    unknown = sorted(set(m) - {"from", "value", "basis"})
                    if unknown:
                        raise self.f.invalid(m[unknown[0]][0], f"{ifld}.{unknown[0]}", f"未知字段 '{unknown[0]}'",
                                             "参数的每个取值有：from（生效日期）、value（数值）、basis（依据）")
                    self.require(m, item, ifld, "from", "value")
                    values.append(ir.ParamValue(_date(self.f, m["from"][1], ifld + ".from"),
                                                _decimal(self.f, m["value"][1], ifld + ".value"),
                                                _text(self.f, m, "basis", ifld + ".", required=False)))
                if not values:
                    raise self.f.invalid(vn, fld, "参数至少要有一个取值")
                starts = [v.start for v in values]
                if starts != sorted(starts) or len(set(starts)) != len(starts):
                    raise self.f.invalid(vn, fld, "各取值的生效日期（from）应从早到晚排列且互不相同")
                self.params[name] = ir.Param(name, tuple(values))
            except _Invalid as exc:
                self.f.problems.append(exc.problem)

    def guard(self, fn: Any, *args: Any) -> Any:
        """Run one part; record its problem and return None so the rest is still checked."""
        try:
            return fn(*args)
        except _Invalid as exc:
            self.f.problems.append(exc.problem)
            return None

    def condition(self, node: yaml.Node, fld: str) -> ir.Pred:
        text = _scalar(self.f, node, fld)
        assert isinstance(node, yaml.ScalarNode)
        try:
            return bind_condition(parse_condition(text), self.d, text, self.params)
        except ExpressionError as exc:
            raise _Invalid(self.f.expression_problem(node, fld, exc)) from None

    def value(self, node: yaml.Node, fld: str, kinds: tuple[Kind, ...], what: str) -> ir.Expr:
        text = _scalar(self.f, node, fld)
        assert isinstance(node, yaml.ScalarNode)
        try:
            return bind_value(parse_value(text), self.d, text, kinds, what, self.params)
        except ExpressionError as exc:
            raise _Invalid(self.f.expression_problem(node, fld, exc)) from None

    def conditions(self, node: yaml.Node) -> tuple[ir.Condition, ...]:
        out: list[ir.Condition] = []
        ids: set[str] = set()
        for i, item in enumerate(_list(self.f, node, "conditions")):
            fld = f"conditions[{i + 1}]"
            try:
                when_node: yaml.Node
                if isinstance(item, yaml.ScalarNode):
                    cid, when_node, label, article = f"c{i + 1}", item, "", ""
                else:
                    m = _mapping(self.f, item, fld)
                    self.only(m, fld, "条件", "id", "when", "label", "article")
                    if "when" not in m:
                        raise self.f.invalid(item, fld, "条件须有 'when: <条件表达式>'")
                    cid = _text(self.f, m, "id", fld + ".", required=False) or f"c{i + 1}"
                    when_node = m["when"][1]
                    label = _text(self.f, m, "label", fld + ".", required=False)
                    article = _text(self.f, m, "article", fld + ".", required=False)
                if cid in ids:
                    raise self.f.invalid(item, fld + ".id", f"条件 id {cid!r} 重复")
                ids.add(cid)
                pred = self.condition(when_node, fld + (".when" if not isinstance(item, yaml.ScalarNode) else ""))
                out.append(ir.Condition(cid, pred, _scalar(self.f, when_node, fld).strip(), label, article))
            except _Invalid as exc:
                self.f.problems.append(exc.problem)
        return tuple(out)

    def formula(self, node: yaml.Node, fld: str) -> ir.Formula:
        m = _mapping(self.f, node, fld)
        kinds = [k for k in FORMULA_KEYS if k in m]
        self.only(m, fld, "金额公式", *FORMULA_KEYS, "cap", "floor")
        if len(kinds) != 1:
            raise self.f.invalid(node, fld, "应恰好是以下之一：" + "、".join(FORMULA_KEYS))
        kind = kinds[0]
        body = m[kind][1]
        sub = f"{fld}.{kind}"
        result: ir.Formula
        if kind == "fixed":
            result = ir.Fixed(_money(self.f, body, sub))
        elif kind == "per_unit":
            bm = _mapping(self.f, body, sub)
            self.require(bm, body, sub, "quantity", "rate")
            self.only(bm, sub, "按数量计（per_unit）", "quantity", "rate")
            q = self.value(bm["quantity"][1], sub + ".quantity", (Kind.NUMBER,), "数量")
            result = ir.PerUnit(q, _money(self.f, bm["rate"][1], sub + ".rate"))
        elif kind == "percent":
            bm = _mapping(self.f, body, sub)
            self.require(bm, body, sub, "of", "rate")
            self.only(bm, sub, "按比例计（percent）", "of", "rate")
            base = self.value(bm["of"][1], sub + ".of", (Kind.MONEY,), "比例的基数")
            rate = _decimal(self.f, bm["rate"][1], sub + ".rate")
            if not (0 < rate <= 10) or ir.decimal_scale(rate) > 6:
                raise self.f.invalid(bm["rate"][1], sub + ".rate",
                                     "应为比例，如 60% 或 0.6（最多 6 位小数）")
            result = ir.Percent(base, rate)
        elif kind == "tiers":
            bm = _mapping(self.f, body, sub)
            self.require(bm, body, sub, "by", "tiers")
            self.only(bm, sub, "分档计（tiers）", "by", "tiers")
            measure = self.value(bm["by"][1], sub + ".by", ir.NUMERIC_KINDS, "分档依据")
            tiers = []
            for j, t in enumerate(_list(self.f, bm["tiers"][1], sub + ".tiers")):
                tf = f"{sub}.tiers[{j + 1}]"
                tm = _mapping(self.f, t, tf)
                self.require(tm, t, tf, "at_least", "amount")
                self.only(tm, tf, "分档", "at_least", "amount")
                tiers.append(ir.Tier(_decimal(self.f, tm["at_least"][1], tf + ".at_least"),
                                     _money(self.f, tm["amount"][1], tf + ".amount")))
            if not tiers:
                raise self.f.invalid(bm["tiers"][1], sub + ".tiers", "至少需要一个分档")
            thresholds = [t.at_least for t in tiers]
            if len(set(thresholds)) != len(thresholds):
                raise self.f.invalid(bm["tiers"][1], sub + ".tiers", "两个分档的起点相同")
            result = ir.Tiers(measure, tuple(sorted(tiers, key=lambda t: t.at_least, reverse=True)))
        elif kind == "cases":
            cases: list[ir.Case] = []
            otherwise: ir.Formula | None = None
            items = _list(self.f, body, sub)
            for j, c in enumerate(items):
                cf = f"{sub}[{j + 1}]"
                cm = _mapping(self.f, c, cf)
                rest = {k: v for k, v in cm.items() if k not in ("when", "otherwise")}
                inner = yaml.MappingNode("tag:yaml.org,2002:map", [v for v in rest.values()],
                                         start_mark=c.start_mark, end_mark=c.end_mark)
                if "otherwise" in cm:
                    self.only(cm, cf, "其他情形（otherwise）", "otherwise")
                    if j != len(items) - 1:
                        raise self.f.invalid(cm["otherwise"][0], cf, "otherwise 必须是最后一种情形")
                    otherwise = self.formula(cm["otherwise"][1], cf + ".otherwise")
                elif "when" in cm:
                    cases.append(ir.Case(self.condition(cm["when"][1], cf + ".when"), self.formula(inner, cf)))
                else:
                    raise self.f.invalid(c, cf, "每种情形须有 'when: <条件>' 或 'otherwise:'")
            if not cases:
                raise self.f.invalid(body, sub, "至少需要一种 'when' 情形")
            result = ir.Cases(tuple(cases), otherwise or ir.Fixed(Decimal(0)))
        else:  # sum
            parts = [self.formula(p, f"{sub}[{j + 1}]") for j, p in enumerate(_list(self.f, body, sub))]
            if not parts:
                raise self.f.invalid(body, sub, "至少需要一项")
            result = ir.Sum(tuple(parts))
        cap = _money(self.f, m["cap"][1], fld + ".cap") if "cap" in m else None
        floor = _money(self.f, m["floor"][1], fld + ".floor") if "floor" in m else None
        if cap is not None and floor is not None and floor > cap:
            raise self.f.invalid(m["floor"][1], fld + ".floor", "下限（floor）高于上限（cap）")
        if cap is not None or floor is not None:
            result = ir.Clamp(result, floor, cap)
        return result

    def only(self, m: dict[str, Any], fld: str, what: str, *allowed: str) -> None:
        """A field this part of a policy does not have is an error, never ignored silently."""
        for k in sorted(set(m) - set(allowed)):
            near = difflib.get_close_matches(k, allowed, n=1)
            raise self.f.invalid(m[k][0], f"{fld}.{k}", f"未知字段 '{k}'",
                                 (f"是否指 '{near[0]}'？" if near else "") + f"{what}可有的字段：{'、'.join(allowed)}")

    def require(self, m: dict[str, Any], node: yaml.Node, fld: str, *keys: str) -> None:
        for k in keys:
            if k not in m:
                raise self.f.invalid(node, fld, f"缺少必填字段 '{k}'")

    def case(self, node: yaml.Node, i: int) -> ir.PolicyCase:
        fld = f"tests[{i + 1}]"
        m = _mapping(self.f, node, fld)
        self.require(m, node, fld, "as_of", "tags", "expect")
        self.only(m, fld, "测试用例", "name", "as_of", "tags", "expect")
        name = _text(self.f, m, "name", fld + ".", required=False) or f"case {i + 1}"
        as_of = _date(self.f, m["as_of"][1], fld + ".as_of")
        tags: list[tuple[str, object]] = []
        tnode = m["tags"][1]
        for written, (kn, vn) in (_mapping(self.f, tnode, fld + ".tags").items() if not _is_null(tnode) else []):
            key = self.case_key(written, as_of, kn, f"{fld}.tags.{written}")
            tdef = self.d.resolve(key)
            if tdef is None:
                sugg = self.d.suggest(key)
                raise self.f.invalid(kn, f"{fld}.tags.{key}", f"未知标签 {key!r}",
                                     f"是否指 {sugg}？" if sugg else "")
            try:
                value = None if _is_null(vn) else coerce(tdef.type, _scalar(self.f, vn, f"{fld}.tags.{key}"))
            except ValueError as exc:
                raise self.f.invalid(vn, f"{fld}.tags.{key}", str(exc)) from None
            tags.append((tdef.key, value))
        em = _mapping(self.f, m["expect"][1], fld + ".expect")
        self.require(em, m["expect"][1], fld + ".expect", "status")
        self.only(em, fld + ".expect", "预期结果", "status", "amount", "missing")
        status_raw = _scalar(self.f, em["status"][1], fld + ".expect.status")
        status = STATUS_ALIASES.get(status_raw, status_raw)
        if status not in STATUSES:
            raise self.f.invalid(em["status"][1], fld + ".expect.status",
                                 f"应为 {'、'.join(sorted(STATUSES))} 之一，实为 {status_raw!r}")
        amount = _money(self.f, em["amount"][1], fld + ".expect.amount") if "amount" in em else None
        missing = None
        if "missing" in em:
            missing = tuple(sorted(_scalar(self.f, n, fld + ".expect.missing")
                                   for n in _list(self.f, em["missing"][1], fld + ".expect.missing")))
        return ir.PolicyCase(name, as_of, tuple(tags), status, amount, missing, node.start_mark.line + 1)

    def case_key(self, written: str, as_of: dt.date, node: yaml.Node, fld: str) -> str:
        """A case's tag as a key: `tax_paid[2025]`, `tax_paid[上年]` (relative to the case's date) or
        `tax_paid@2025` name one period of a periodic tag; a periodic tag needs one."""
        name, bracket, rest = written.partition("[")
        key = written
        if bracket:
            if not rest.endswith("]"):
                raise self.f.invalid(node, fld, f"期间的 [ 没有闭合：{written!r}")
            try:
                period = parse_relative(rest[:-1])
            except ValueError as exc:
                raise self.f.invalid(node, fld, str(exc)) from None
            key = slot(name.strip(), period.at(as_of))
        base = self.d.resolve(split_slot(key)[0])
        if base is not None and base.periodic and self.d.resolve(key) is None:
            raise self.f.invalid(node, fld, f"{base.key}（{base.label}）按{base.period.zh}报送，须写明期间",
                                 f"如 {base.key}[上年] 或 {base.key}@{as_of.year - 1}")
        return key

    def policy(self, root: yaml.Node) -> ir.Policy | None:
        f = self.f
        m = _mapping(f, root, "")
        if "params" in m:
            self.read_params(m["params"][1])
        for k in sorted(set(m) - TOP_KEYS):
            near = difflib.get_close_matches(k, TOP_KEYS, n=1)
            f.problems.append(f.problem(m[k][0], k, f"未知字段 '{k}'", hint=f"是否指 '{near[0]}'？" if near else ""))
        g = self.guard
        pid = g(self.policy_id, m)
        version = g(self.version, m)
        title = g(_text, f, m, "title", "")
        department = g(_text, f, m, "department", "")
        basis = g(self.basis, m)
        tier = g(self.enum, m, "tier", ir.Tier3, None)
        valid_from = g(self.date_field, m, root, "valid_from", True)
        valid_to = g(self.date_field, m, root, "valid_to", False)
        if valid_from and valid_to and valid_to < valid_from:
            f.problems.append(f.problem(m["valid_to"][1], "valid_to", "早于 valid_from（生效日期）"))
        status = g(self.choice, m, "status", ("active", "draft", "retired"), "active")
        regions = g(self.regions, m) or ()
        conditions = self.conditions(m["conditions"][1]) if "conditions" in m else ()
        if "conditions" not in m:
            f.problems.append(f.problem(root, "conditions", "缺少必填字段 'conditions'"))
        benefit = g(self.formula, m["benefit"][1], "benefit") if "benefit" in m else None
        if "benefit" not in m:
            f.problems.append(f.problem(root, "benefit", "缺少必填字段 'benefit'"))
        exclusive = g(self.exclusive, m) if "exclusive" in m else None
        limit = g(self.enum, m, "limit", ir.Limit, ir.Limit.ONCE_PER_YEAR)
        budget = g(self.budget, m) if "budget" in m else None
        cases = tuple(c for c in (g(self.case, n, i) for i, n in
                                  enumerate(g(_list, f, m["tests"][1], "tests") or [] if "tests" in m else []))
                      if c is not None)
        if f.problems:
            return None
        assert benefit is not None and valid_from is not None
        if regions:
            scope = ir.Under(ir.Tag("region", self.d["region"].type), tuple(regions))
            conditions = (ir.Condition("region_scope", scope, "region under " + ", ".join(regions),
                                       "注册地在政策适用区域内"), *conditions)
        policy = ir.Policy(
            id=pid, version=version, title=title, department=department, basis=basis, tier=tier,
            valid_from=valid_from, valid_to=valid_to, regions=tuple(regions), conditions=conditions,
            benefit=benefit, exclusive=exclusive, limit=limit, budget=budget, status=status,
            summary=_text(f, m, "summary", "", required=False), contact=_text(f, m, "contact", "", required=False),
            cases=cases, source=f.path, time_limit=self.time_limit(m), params=tuple(self.params.values()),
        )
        n_tags = len(ir.policy_tags(policy))
        if n_tags > MAX_TAGS_PER_POLICY:
            f.problems.append(f.problem(root, "conditions", f"读取了 {n_tags} 个标签；最多 {MAX_TAGS_PER_POLICY} 个"))
            return None
        return policy

    def time_limit(self, m: dict[str, Any]) -> int | None:
        raw = _text(self.f, m, "time_limit", "", required=False)
        if not raw:
            return None
        if not (raw.isascii() and raw.isdigit() and 1 <= int(raw) <= 365):
            self.f.problems.append(self.f.problem(m["time_limit"][1], "time_limit",
                                                  f"应为 1 到 365 之间的工作日天数（整数），实为 {raw!r}"))
            return None
        return int(raw)

    def date_field(self, m: dict[str, Any], root: yaml.Node, key: str, required: bool) -> dt.date | None:
        if key not in m or _is_null(m[key][1]):
            if required:
                raise self.f.invalid(root, key, f"缺少必填字段 '{key}'")
            return None
        return _date(self.f, m[key][1], key)

    def policy_id(self, m: dict[str, Any]) -> str:
        pid = _text(self.f, m, "id", "")
        if not ID_RE.match(pid):
            raise self.f.invalid(m["id"][1], "id", "编号只能由小写字母、数字、'-' 和 '_' 组成")
        return pid

    def version(self, m: dict[str, Any]) -> int:
        raw = _text(self.f, m, "version", "")
        if not (raw.isascii() and raw.isdigit() and len(raw) <= 9) or int(raw) < 1:
            raise self.f.invalid(m["version"][1], "version", f"应为不小于 1 的整数，实为 {raw!r}")
        return int(raw)

    def basis(self, m: dict[str, Any]) -> ir.LegalBasis:
        if "basis" not in m:
            raise _Invalid(self.f.problem(None, "basis", "缺少必填字段 'basis'（document 文件名称、number 文号、article 条款）"))
        bm = _mapping(self.f, m["basis"][1], "basis")
        self.only(bm, "basis", "政策依据", "document", "number", "article")
        return ir.LegalBasis(_text(self.f, bm, "document", "basis."), _text(self.f, bm, "number", "basis."),
                             _text(self.f, bm, "article", "basis.", required=False))

    def enum(self, m: dict[str, Any], key: str, enum: Any, default: Any) -> Any:
        if key not in m:
            if default is None:
                raise _Invalid(self.f.problem(None, key, f"缺少必填字段 '{key}'"))
            return default
        raw = _scalar(self.f, m[key][1], key)
        try:
            return enum(raw)
        except ValueError:
            allowed = ", ".join(e.value for e in enum)
            raise self.f.invalid(m[key][1], key, f"应为 {allowed} 之一，实为 {raw!r}") from None

    def choice(self, m: dict[str, Any], key: str, allowed: tuple[str, ...], default: str) -> str:
        raw = _scalar(self.f, m[key][1], key) if key in m else default
        if raw not in allowed:
            raise self.f.invalid(m[key][1], key, f"应为 {'、'.join(allowed)} 之一，实为 {raw!r}")
        return raw

    def regions(self, m: dict[str, Any]) -> tuple[str, ...]:
        if "regions" not in m or _is_null(m["regions"][1]):
            return ()
        node = m["regions"][1]
        items = [node] if isinstance(node, yaml.ScalarNode) else _list(self.f, node, "regions")
        out = []
        for n in items:
            code = _scalar(self.f, n, "regions")
            if not re.fullmatch(r"[0-9]{6}", code):  # ASCII only: 34０100 would match no one
                raise self.f.invalid(n, "regions", f"应为 6 位行政区划代码（如 340200），实为 {code!r}")
            out.append(code)
        return tuple(out)

    def exclusive(self, m: dict[str, Any]) -> ir.Exclusive:
        em = _mapping(self.f, m["exclusive"][1], "exclusive")
        self.only(em, "exclusive", "就高不重复", "group", "precedence")
        group = _text(self.f, em, "group", "exclusive.")
        prec = _text(self.f, em, "precedence", "exclusive.", required=False)
        if prec and not re.fullmatch(r"-?[0-9]{1,9}", prec):
            raise self.f.invalid(em["precedence"][1], "exclusive.precedence", "应为整数")
        return ir.Exclusive(group, int(prec) if prec else None)

    def budget(self, m: dict[str, Any]) -> ir.Budget:
        bm = _mapping(self.f, m["budget"][1], "budget")
        self.require(bm, m["budget"][1], "budget", "total")
        self.only(bm, "budget", "预算", "total", "allocation", "priority")
        total = _money(self.f, bm["total"][1], "budget.total")
        allocation = self.enum(bm, "allocation", ir.Allocation, ir.Allocation.PRO_RATA)
        priority: list[str] = []
        if "priority" in bm:
            for n in _list(self.f, bm["priority"][1], "budget.priority"):
                key = _scalar(self.f, n, "budget.priority").strip()
                name, bracket, rest = key.partition("[")
                tdef = self.d.resolve(name.strip())
                if tdef is None:
                    raise self.f.invalid(n, "budget.priority", f"未知标签 {key!r}")
                if tdef.kind not in ir.NUMERIC_KINDS:
                    raise self.f.invalid(n, "budget.priority", f"{key} 不是数值：优先顺序只能按数值排列")
                if tdef.periodic != bool(bracket):
                    raise self.f.invalid(n, "budget.priority", f"{tdef.key}（{tdef.label}）"
                                         + ("按期间报送，须写明期间，如 " + f"{tdef.key}[上年]" if tdef.periodic else "不分期间"))
                if bracket:
                    try:
                        period = parse_relative(rest.rstrip("]"))
                    except ValueError as exc:
                        raise self.f.invalid(n, "budget.priority", str(exc)) from None
                    if period.kind is not tdef.period:
                        raise self.f.invalid(n, "budget.priority", f"{tdef.key} 按{tdef.period.zh}报送，不能取{period.kind.zh}期间")
                    key = f"{tdef.key}[{rest.rstrip(']').strip()}]"
                else:
                    key = tdef.key
                priority.append(key)
        if allocation is ir.Allocation.PRIORITY and not priority:
            raise self.f.invalid(m["budget"][1], "budget.priority", "allocation 为 priority（按优先顺序）时须列出 priority 标签")
        return ir.Budget(total, allocation, tuple(priority))


# ------------------------------------------------------------------ entry points


MAX_FILE_BYTES = 256 * 1024  # the largest real policy file is ~3 KB
MAX_YAML_DEPTH = 32  # nesting of mappings and lists
MAX_IR_DEPTH = 64  # nesting of a condition or formula once parsed


class _BoundedLoader(yaml.SafeLoader):
    """PyYAML's safe composer, refusing aliases (a 2 KB file could expand to 2^20 nodes) and
    nesting deeper than MAX_YAML_DEPTH (deep nesting exhausted the interpreter's stack)."""

    depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(None, None, "政策文件中不允许使用 YAML 别名（*name）",
                                              event.start_mark)
        self.depth += 1
        try:
            if self.depth > MAX_YAML_DEPTH:
                raise yaml.composer.ComposerError(None, None, f"嵌套超过 {MAX_YAML_DEPTH} 层",
                                                  self.peek_event().start_mark)
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


_FAST = getattr(yaml, "CSafeLoader", None)  # libyaml: composes a 250 kB file in 0.17 s where Python takes 1.5 s
_OPEN = (yaml.MappingStartEvent, yaml.SequenceStartEvent)
_CLOSE = (yaml.MappingEndEvent, yaml.SequenceEndEvent)


def _compose(text: str) -> yaml.Node | None:
    """The document's node tree. libyaml composes it when the file has no alias and no deep
    nesting (checked on its events first); anything else, and any syntax error, goes through the
    Python composer, which refuses it with a located message (_BoundedLoader)."""
    if _FAST is None:
        return yaml.compose(text, Loader=_BoundedLoader)
    try:
        depth = 0
        for ev in yaml.parse(text, Loader=_FAST):
            if isinstance(ev, _OPEN):
                depth += 1
                if depth >= MAX_YAML_DEPTH:
                    raise yaml.YAMLError("deep")
            elif isinstance(ev, _CLOSE):
                depth -= 1
            elif isinstance(ev, yaml.AliasEvent):
                raise yaml.YAMLError("alias")
        root = yaml.compose(text, Loader=_FAST)
    except yaml.YAMLError:
        return yaml.compose(text, Loader=_BoundedLoader)
    _plain(root)
    return root


def _plain(root: yaml.Node | None) -> None:
    """libyaml marks a plain scalar with style '' where the Python composer says None."""
    stack = [root] if root is not None else []
    while stack:
        node = stack.pop()
        if isinstance(node, yaml.ScalarNode):
            if node.style == "":
                node.style = None
        elif isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                stack.append(k)
                stack.append(v)
        elif isinstance(node, yaml.SequenceNode):
            stack.extend(node.value)


def _yaml_problem(path: str, f: _File, exc: yaml.YAMLError) -> Problem:
    if isinstance(exc, yaml.MarkedYAMLError):
        mark, what = exc.problem_mark, exc.problem
    elif isinstance(exc, yaml.reader.ReaderError):  # a control character or a bad byte
        before = "\n".join(f.lines)[: exc.position]
        line, col = before.count("\n") + 1, exc.position - (before.rfind("\n") + 1) + 1
        src = f.lines[line - 1] if 0 < line <= len(f.lines) else ""
        return Problem(path, line, col, "yaml", f"不是合法的 YAML：不允许字符 {exc.character!r}", src)
    else:
        mark, what = None, str(exc)
    line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    src = f.lines[line - 1] if 0 < line <= len(f.lines) else ""
    return Problem(path, line, col, "yaml", f"不是合法的 YAML：{what}", src)


def _ir_depth(node: object) -> int:
    """The deepest nesting of IR nodes below `node`, without recursion."""
    import dataclasses

    deepest = 0
    stack: list[tuple[object, int]] = [(node, 1)]
    while stack:
        n, d = stack.pop()
        deepest = max(deepest, d)
        if d > MAX_IR_DEPTH:
            break
        if dataclasses.is_dataclass(n) and not isinstance(n, type):
            kids: list[object] = [getattr(n, fl.name) for fl in dataclasses.fields(n)]
        elif isinstance(n, (list, tuple)):
            kids = list(n)
        else:
            continue
        for k in kids:
            if dataclasses.is_dataclass(k) or isinstance(k, (list, tuple)):
                stack.append((k, d + 1 if dataclasses.is_dataclass(k) else d))
    return deepest


def _read_root(text: str, path: str) -> tuple[_File, yaml.Node]:
    """The file's YAML tree, or PolicyLoadError: too large, not YAML, or empty (a policy and a
    contract file alike)."""
    f = _File(path, text.splitlines())
    if len(text.encode("utf-8", "surrogatepass")) > MAX_FILE_BYTES:
        raise PolicyLoadError([Problem(path, 1, 1, "", f"文件超过 {MAX_FILE_BYTES // 1024} KB")])
    try:
        root = _compose(text)
    except yaml.YAMLError as exc:
        raise PolicyLoadError([_excerpt(_yaml_problem(path, f, exc))]) from None
    if root is None:
        raise PolicyLoadError([Problem(path, 1, 1, "", "文件是空的")])
    return f, root


def load_policy_text(text: str, dictionary: TagDictionary, path: str = "<text>") -> ir.Policy:
    """Load one policy from YAML text; raise PolicyLoadError listing every problem. Whatever the
    text, the only exception is PolicyLoadError, each problem located in the file."""
    f, root = _read_root(text, path)
    try:
        policy = _PolicyReader(f, dictionary).policy(root)
    except _Invalid as exc:
        f.problems.append(exc.problem)
        policy = None
    except RecursionError:
        f.problems.append(Problem(path, 1, 1, "", f"条件或公式嵌套过深（最多 {MAX_IR_DEPTH} 层）"))
        policy = None
    if policy is not None and not f.problems and _ir_depth(policy) > MAX_IR_DEPTH:
        f.problems.append(Problem(path, 1, 1, "", f"条件或公式嵌套超过 {MAX_IR_DEPTH} 层；请拆成几个有名称的条件"))
    if f.problems or policy is None:
        found = sorted(f.problems, key=lambda p: (p.line, p.column))
        if len(found) > MAX_PROBLEMS_PER_FILE:  # 10,000 broken test cases are one message, not 10,000
            rest = len(found) - MAX_PROBLEMS_PER_FILE
            found = found[:MAX_PROBLEMS_PER_FILE] + [Problem(path, found[MAX_PROBLEMS_PER_FILE].line, 1, "",
                                                             f"本文件另有 {rest} 个问题未列出；请先改正以上问题")]
        raise PolicyLoadError([_excerpt(p) for p in found])
    return policy


def load_policy_file(path: Path | str, dictionary: TagDictionary) -> ir.Policy:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise PolicyLoadError([Problem(str(path), 1, 1, "", f"不是 UTF-8 文本（{exc.reason}）")]) from None
    except OSError as exc:
        raise PolicyLoadError([Problem(str(path), 1, 1, "", f"无法读取文件（{os_reason(exc)}）")]) from None
    return load_policy_text(text, dictionary, str(path))


@dataclass
class Library:
    policies: list[ir.Policy]
    problems: list[Problem]

    def by_key(self) -> dict[str, ir.Policy]:
        return {p.key: p for p in self.policies}

    def get(self, policy_id: str) -> ir.Policy:
        """The highest version of a policy id."""
        found = [p for p in self.policies if p.id == policy_id]
        if not found:
            raise KeyError(policy_id)
        return max(found, key=lambda p: p.version)

    def active(self) -> list[ir.Policy]:
        return [p for p in self.policies if p.status == "active"]


def policy_files(root: Path | str) -> list[Path]:
    root = Path(root)
    if root.is_file():
        return [root]
    return sorted(p for p in root.rglob("*.y*ml") if p.suffix in (".yaml", ".yml")
                  and CONTRACTS_DIR not in p.relative_to(root).parts[:1])


def load_library(root: Path | str, dictionary: TagDictionary) -> Library:
    """Load every policy file under `root`; bad files are reported, good ones loaded."""
    policies: list[ir.Policy] = []
    problems: list[Problem] = []
    if not Path(root).exists():  # a mistyped --policies loaded nothing and said nothing
        problems.append(Problem(str(root), 1, 1, "policies", "政策文件或目录不存在"))
    for path in policy_files(root):
        try:
            policies.append(load_policy_file(path, dictionary))
        except PolicyLoadError as exc:
            problems.extend(exc.problems)
    seen: dict[str, ir.Policy] = {}
    for p in policies:
        if p.key in seen:
            problems.append(Problem(p.source, 1, 1, "version",
                                    f"{p.key} 在 {seen[p.key].source} 中也有定义（版本号重复）"))
        seen[p.key] = p
    return Library(policies, problems)
