"""合同履约: a support agreement (招商引资协议, 一企一策) as data.

A contract binds one enterprise and one government body: the enterprise commits to milestones
(each a condition in the policy language over its tags, due by a date, with a grace period), the
government pays a stage when a milestone is met and, where the contract says so, recovers
earlier payments when one is missed. The file is YAML like a policy, read by the same loader
parts, so a mistyped tag or condition is a located problem in the contract's own file:

    number: HT-2026-0001
    version: 1
    title: 新能源电池项目招商引资协议
    enterprise: {credit_code: 91340100MA2N00001X, name: 合肥某某新能源有限公司}
    government: 合肥市经济和信息化局
    basis: {document: 合肥市招商引资项目扶持办法, number: 合政〔2026〕8号, article: 第十条}
    start: 2026-12-01
    total: 2000万
    milestones:
      - id: m1
        name: 2027年度技术改造投资达到5000万元
        when: tech_renovation_investment[2027] >= 5000万
        due: 2027-12-31
        grace_days: 90
        pays: {fixed: 800万}
        on_miss: none            # none | {recover: 100%} | {recover: 300万}

Each milestone is also an `ir.Policy` (`milestone_policy`), so the engine, the explanation
(values, sources, dates, article), the ledger's payout record and `audit verify` treat a stage
payment like any other. The canonical bytes both parties sign are the file's text normalised
(`canonical`); a signed version never changes, an amendment (补充协议) is the next version."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import string
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import yaml

from .. import ir
from ..data.creditcode import is_valid as valid_credit_code
from ..data.tags import TagDictionary
from ..errors import PolicyLoadError, Problem
from ..language.render_zh import Renderer, fmt_money
from .loader import (
    _date,
    _decimal,
    _excerpt,
    _Invalid,
    _list,
    _mapping,
    _money,
    _PolicyReader,
    _read_root,
    _scalar,
    _text,
)

NUMBER_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,40}$")
MILESTONE_RE = re.compile(r"^[a-z0-9][a-z0-9_]{0,15}$")
TOP_KEYS = ("number", "version", "title", "enterprise", "government", "basis", "start", "total", "milestones",
            "contact", "exclusive")
MILESTONE_KEYS = ("id", "name", "when", "due", "grace_days", "pays", "on_miss", "article")
MAX_GRACE_DAYS = 730
MAX_MILESTONES = 50


@dataclass(frozen=True)
class Recovery:
    """What a missed milestone costs: a share of what the contract has paid, or a fixed sum;
    never more than was paid and not yet claimed."""

    share: Decimal | None = None  # 1 = everything paid under the contract
    fixed_fen: int | None = None

    def zh(self) -> str:
        if self.share is not None:
            return f"追回已拨付资金的 {_percent(self.share)}"
        return f"追回已拨付资金 {fmt_money(Decimal(self.fixed_fen or 0) / 100)}（以已拨付金额为限）"


@dataclass(frozen=True)
class Milestone:
    id: str
    name: str
    when: ir.Pred
    when_text: str
    due: dt.date
    grace_days: int
    pays: ir.Formula
    recovery: Recovery | None
    article: str
    line: int

    @property
    def deadline(self) -> dt.date:
        """The last day the milestone can still be met: its due date plus the grace period."""
        return self.due + dt.timedelta(days=self.grace_days)


@dataclass(frozen=True)
class Contract:
    number: str
    version: int
    title: str
    credit_code: str
    enterprise_name: str
    government: str
    basis: ir.LegalBasis
    start: dt.date
    total_fen: int
    milestones: tuple[Milestone, ...]
    contact: str
    text: str
    source: str
    exclusive: ir.Exclusive | None = None  # 就高不重复 with the policies (and contracts) of a group

    @property
    def sha256(self) -> str:
        return digest(self.text)

    def milestone(self, mid: str) -> Milestone:
        for m in self.milestones:
            if m.id == mid:
                return m
        raise KeyError(mid)


def canonical(text: str) -> bytes:
    """The bytes both parties sign: the text as UTF-8, line ends LF, no spaces at line ends, one
    final newline. Two texts that differ only in those read the same and hash the same."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return ("\n".join(line.rstrip() for line in lines).strip("\n") + "\n").encode("utf-8")


def digest(text: str) -> str:
    return hashlib.sha256(canonical(text)).hexdigest()


def milestone_policy(c: Contract, m: Milestone) -> ir.Policy:
    """The milestone as a policy of its own: one condition, its payment, once. Its id names the
    contract and the milestone, so the ledger's unique key (policy, enterprise, period) pays a
    milestone once across every version of the contract."""
    basis = ir.LegalBasis(c.basis.document, c.basis.number, m.article or c.basis.article)
    cond = ir.Condition(m.id, m.when, m.when_text, m.name, m.article)
    return ir.Policy(
        id=policy_id(c.number, m.id), version=c.version, title=f"{c.title}·{m.name}", department=c.government,
        basis=basis, tier=ir.Tier3.AUTO, valid_from=c.start, valid_to=None, regions=(), conditions=(cond,),
        benefit=m.pays, limit=ir.Limit.ONCE, contact=c.contact, source=c.source, exclusive=c.exclusive,
        summary=f"合同 {c.number} 第 {c.version} 版 履约节点 {m.id}：{m.name}（截止 {m.due}）")


def policy_id(number: str, milestone: str) -> str:
    return f"{number}#{milestone}"


def split_policy_id(pid: str) -> tuple[str, str] | None:
    """(contract number, milestone id) of a milestone's policy id, or None for a policy's."""
    number, sep, mid = pid.partition("#")
    return (number, mid) if sep and NUMBER_RE.match(number) and MILESTONE_RE.match(mid) else None


def max_fen(f: ir.Formula) -> int | None:
    """The most a formula can pay, in fen, or None when nothing bounds it."""
    match f:
        case ir.Fixed(amount=a):
            return int(a * 100)
        case ir.Clamp(cap=cap) if cap is not None:
            return int(cap * 100)
        case ir.Tiers(tiers=tiers):
            return max(int(t.amount * 100) for t in tiers)
        case ir.Cases(cases=cases, otherwise=other):
            parts = [max_fen(c.formula) for c in cases] + [max_fen(other)]
            return None if any(p is None for p in parts) else max(p for p in parts if p is not None)
        case ir.Sum(parts=parts):
            each = [max_fen(p) for p in parts]
            return None if any(p is None for p in each) else sum(p for p in each if p is not None)
    return None


# ------------------------------------------------------------------ reading a contract


class _ContractReader(_PolicyReader):
    def contract(self, root: yaml.Node, text: str) -> Contract | None:
        f = self.f
        m = _mapping(f, root, "")
        for k in sorted(set(m) - set(TOP_KEYS)):
            f.problems.append(f.problem(m[k][0], k, f"未知字段 '{k}'", hint="合同可有的字段：" + "、".join(TOP_KEYS)))
        g = self.guard
        number = g(self.number, m, root)
        version = g(self.version, m)
        title = g(_text, f, m, "title", "")
        government = g(_text, f, m, "government", "")
        basis = g(self.basis, m)
        start = g(self.date_field, m, root, "start", True)
        total = g(self.total, m, root)
        party = g(self.enterprise, m, root)
        milestones = g(self.milestones, m, root, start, total) or ()
        exclusive = g(self.exclusive, m) if "exclusive" in m else None
        if f.problems:
            return None
        assert party is not None and start is not None and total is not None
        return Contract(number, version, title, party[0], party[1], government, basis, start, total, milestones,
                        _text(f, m, "contact", "", required=False), text, f.path, exclusive)

    def number(self, m: dict[str, Any], root: yaml.Node) -> str:
        value = _text(self.f, m, "number", "")
        if not NUMBER_RE.match(value):
            raise self.f.invalid(m["number"][1], "number", "合同编号应为字母、数字、连字符或下划线（不超过 41 个字符）",
                                 "如 HT-2026-0001")
        return value

    def total(self, m: dict[str, Any], root: yaml.Node) -> int:
        if "total" not in m:
            raise self.f.invalid(root, "total", "缺少必填字段 'total'（支持资金总额，元）")
        value = _money(self.f, m["total"][1], "total")
        if value <= 0:
            raise self.f.invalid(m["total"][1], "total", "支持资金总额应大于 0")
        return int(value * 100)

    def enterprise(self, m: dict[str, Any], root: yaml.Node) -> tuple[str, str]:
        if "enterprise" not in m:
            raise self.f.invalid(root, "enterprise", "缺少必填字段 'enterprise'（credit_code 与 name）")
        node = m["enterprise"][1]
        em = _mapping(self.f, node, "enterprise")
        self.only(em, "enterprise", "合同的企业方", "credit_code", "name")
        code = _text(self.f, em, "credit_code", "enterprise.").upper()
        if not valid_credit_code(code):
            raise self.f.invalid(em["credit_code"][1], "enterprise.credit_code",
                                 f"{code!r} 不是有效的统一社会信用代码（18 位，校验位按 GB 32100）")
        return code, _text(self.f, em, "name", "enterprise.")

    def milestones(self, m: dict[str, Any], root: yaml.Node, start: dt.date | None,
                   total: int | None) -> tuple[Milestone, ...]:
        if "milestones" not in m:
            raise self.f.invalid(root, "milestones", "缺少必填字段 'milestones'（履约节点）")
        items = _list(self.f, m["milestones"][1], "milestones")
        if not items or len(items) > MAX_MILESTONES:
            raise self.f.invalid(m["milestones"][1], "milestones", f"应有 1 到 {MAX_MILESTONES} 个履约节点")
        out: list[Milestone] = []
        for i, item in enumerate(items):
            try:
                ms = self.milestone(item, f"milestones[{i + 1}]", start)
            except _Invalid as exc:
                self.f.problems.append(exc.problem)
                continue
            if any(x.id == ms.id for x in out):
                self.f.problems.append(self.f.problem(item, f"milestones[{i + 1}].id", f"履约节点 id {ms.id!r} 重复"))
            out.append(ms)
        caps = [max_fen(x.pays) for x in out]
        if total is not None and all(c is not None for c in caps) and sum(c or 0 for c in caps) > total:
            self.f.problems.append(self.f.problem(
                m["milestones"][1], "milestones",
                f"各履约节点拨付上限合计 {fmt_money(Decimal(sum(c or 0 for c in caps)) / 100)} 超过支持资金总额 "
                f"{fmt_money(Decimal(total) / 100)}"))
        return tuple(out)

    def milestone(self, node: yaml.Node, fld: str, start: dt.date | None) -> Milestone:
        f = self.f
        mm = _mapping(f, node, fld)
        self.only(mm, fld, "履约节点", *MILESTONE_KEYS)
        self.require(mm, node, fld, "id", "name", "when", "due", "pays")
        mid = _text(f, mm, "id", fld + ".")
        if not MILESTONE_RE.match(mid):
            raise f.invalid(mm["id"][1], fld + ".id", "履约节点 id 应为小写英文、数字或下划线（不超过 16 个字符）")
        due = _date(f, mm["due"][1], fld + ".due")
        if start is not None and due < start:
            raise f.invalid(mm["due"][1], fld + ".due", f"截止日期早于合同生效日期 {start}")
        grace = 0
        if "grace_days" in mm:
            raw = _scalar(f, mm["grace_days"][1], fld + ".grace_days").strip()
            if not (raw.isascii() and raw.isdigit() and int(raw) <= MAX_GRACE_DAYS):
                raise f.invalid(mm["grace_days"][1], fld + ".grace_days",
                                f"宽限期应为 0 到 {MAX_GRACE_DAYS} 之间的天数（整数），实为 {raw!r}")
            grace = int(raw)
        when_node = mm["when"][1]
        pred = self.condition(when_node, fld + ".when")
        pays = self.formula(mm["pays"][1], fld + ".pays")
        if max_fen(pays) is None:
            raise f.invalid(mm["pays"][1], fld + ".pays", "拨付金额须有上限：写 fixed，或给公式加 cap（元）",
                            "合同约定的每一笔拨付都应有封顶金额")
        recovery = self.recovery(mm["on_miss"][1], fld + ".on_miss") if "on_miss" in mm else None
        return Milestone(mid, _text(f, mm, "name", fld + "."), pred, _scalar(f, when_node, fld).strip(), due, grace,
                         pays, recovery, _text(f, mm, "article", fld + ".", required=False), node.start_mark.line + 1)

    def recovery(self, node: yaml.Node, fld: str) -> Recovery | None:
        f = self.f
        if isinstance(node, yaml.ScalarNode):
            if node.value.strip() in ("none", "无", ""):
                return None
            raise f.invalid(node, fld, f"未达成的后果应为 none 或 {{recover: 100%}} / {{recover: 300万}}，实为 {node.value!r}")
        rm = _mapping(f, node, fld)
        self.only(rm, fld, "未达成的后果", "recover")
        self.require(rm, node, fld, "recover")
        raw = _scalar(f, rm["recover"][1], fld + ".recover").strip()
        if raw.endswith("%"):
            share = _decimal(f, rm["recover"][1], fld + ".recover")
            if not (0 < share <= 1):
                raise f.invalid(rm["recover"][1], fld + ".recover", f"追回比例应在 0% 到 100% 之间，实为 {raw}")
            return Recovery(share=share)
        amount = _money(f, rm["recover"][1], fld + ".recover")
        if amount <= 0:
            raise f.invalid(rm["recover"][1], fld + ".recover", "追回金额应大于 0")
        return Recovery(fixed_fen=int(amount * 100))


def load_contract_text(text: str, dictionary: TagDictionary, path: str = "<contract>") -> Contract:
    """A contract from its YAML text; PolicyLoadError lists every problem, each located."""
    f, root = _read_root(text, path)
    contract = None
    try:
        contract = _ContractReader(f, dictionary).contract(root, text)
    except _Invalid as exc:
        f.problems.append(exc.problem)
    except RecursionError:
        f.problems.append(Problem(path, 1, 1, "", "条件或公式嵌套过深"))
    if f.problems or contract is None:
        found = sorted(f.problems, key=lambda p: (p.line, p.column))[:50]
        raise PolicyLoadError([_excerpt(p) for p in found])
    return contract


# ------------------------------------------------------------------ templates and Chinese text


SAFE_FIELD = re.compile(r"^[0-9A-Za-z\u4e00-\u9fff._\-〔〕（）·、]{1,100}$")


def fill_template(template: str, fields: dict[str, str]) -> str:
    """A contract drafted from a template: `${name}` placeholders replaced by the fields. A value
    is letters, digits, Chinese and a few marks only (no space, colon, quote, ASCII bracket, hash
    or line break), so it can stand in a condition or a YAML value and cannot add keys, lines or
    expressions of its own. Every placeholder must be given, and only those."""
    tpl = string.Template(template)
    wanted = set(tpl.get_identifiers())
    missing, extra = sorted(wanted - set(fields)), sorted(set(fields) - wanted)
    if missing or extra:
        raise ValueError("模板字段不符：" + "；".join(
            ([f"缺少 {'、'.join(missing)}"] if missing else []) + ([f"模板中没有 {'、'.join(extra)}"] if extra else [])))
    bad = [k for k, v in fields.items() if not SAFE_FIELD.match(str(v).strip())]
    if bad:
        raise ValueError(f"模板字段 {'、'.join(sorted(bad))} 的值只能含文字、数字和 . - _ 〔〕（）· 、（不超过 100 个字符）")
    return tpl.substitute({k: str(v).strip() for k, v in fields.items()})


def template_fields(template: str) -> list[str]:
    return string.Template(template).get_identifiers()


def _percent(share: Decimal) -> str:
    return f"{(share * 100).normalize():f}%"


def render_zh(c: Contract, d: TagDictionary) -> str:
    """The contract in Chinese, as both parties read it (generated from the signed text)."""
    r = Renderer(d)
    lines = [f"{c.title}", f"合同编号：{c.number}（第 {c.version} 版）",
             f"甲方（政府）：{c.government}", f"乙方（企业）：{c.enterprise_name}（统一社会信用代码 {c.credit_code}）",
             f"依据：{c.basis.document}（{c.basis.number}）{c.basis.article}",
             f"生效日期：{c.start}；支持资金总额：{fmt_money(Decimal(c.total_fen) / 100)}"]
    if c.exclusive:
        lines.append(f"就高不重复：与「{c.exclusive.group}」组的政策同一年度只享受金额最高的一项")
    lines.append("履约节点：")
    for i, m in enumerate(c.milestones, 1):
        cond = r.pred(m.when)
        miss = m.recovery.zh() if m.recovery else "不予拨付该节点资金"
        lines.append(f"{i}. {m.name}：{cond}；截止 {m.due}" + (f"，宽限 {m.grace_days} 天" if m.grace_days else "")
                     + f"。达成后拨付：{r.formula(m.pays)}。未达成：{miss}。"
                     + (f"（{m.article}）" if m.article else ""))
    lines.append(f"本文本 SHA-256：{c.sha256}")
    return "\n".join(lines)
