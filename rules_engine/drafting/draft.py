"""政策拆解: a policy document in, one draft policy per benefit out. Each draft is policy YAML
that went through the loader and the type checker, with every condition, amount and cap traced
to the span of text it came from, the open items (what the drafter could not read) first, and
boundary test cases for the official to confirm. Nothing here publishes: a draft goes through
the same two-person review as a hand-written one."""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass, field
from decimal import Decimal

from .. import ir
from ..backends import reference
from ..data.codes import code_children
from ..data.tags import TagDictionary
from ..errors import ExpressionError, PolicyLoadError
from ..language.binder import bind_condition, bind_value
from ..language.parser import parse_condition, parse_value
from ..library.lint import lint
from ..library.loader import Library, load_policy_text
from ..library.policytests import STATUS_ZH
from .clauses import BenefitDraft, Open, Part, Reader, _num
from .numbers import DATE, cn_number, quantities
from .reader import SourceText
from .structure import Article, Header, View, sentences, split
from .vocabulary import Vocabulary

COMMON = re.compile(r"享受|申请|适用|方可|限于|不得|不予|所称|是指|须|应当?|均在")
DRAFT_NOTE = "由「从政策原文起草」生成：每一项均须对照原文核对，未识别的内容见待核对事项"


@dataclass
class Draft:
    policy_id: str
    article: str
    title: str
    yaml: str
    parts: list[Part]
    opens: list[Open]
    policy: ir.Policy | None = None
    problems: list[str] = field(default_factory=list)
    cases: int = 0
    cases_failed: list[str] = field(default_factory=list)

    @property
    def loads(self) -> bool:
        return self.policy is not None

    def to_dict(self) -> dict[str, object]:
        return {"policy_id": self.policy_id, "article": self.article, "title": self.title, "yaml": self.yaml,
                "loads": self.loads, "problems": self.problems, "cases": self.cases, "cases_failed": self.cases_failed,
                "parts": [{"role": p.role, "rule": p.rule, "label": p.label, "start": p.span[0], "end": p.span[1]}
                          for p in self.parts],
                "open_items": [{"message": o.message, "start": o.span[0], "end": o.span[1]} for o in self.opens]}


@dataclass
class DraftDocument:
    source: SourceText
    header: Header
    drafts: list[Draft]
    opens: list[Open]  # about the whole document (validity, region, department)
    elapsed_s: float = 0.0

    def to_dict(self) -> dict[str, object]:
        return {"name": self.source.name, "kind": self.source.kind, "pages": self.source.pages,
                "notes": list(self.source.notes), "title": self.header.title, "number": self.header.number,
                "open_items": [{"message": o.message, "start": o.span[0], "end": o.span[1]} for o in self.opens],
                "drafts": [d.to_dict() for d in self.drafts]}


# ---------------------------------------------------------------------- the whole document


def _validity(text: str, issued: dt.date | None) -> tuple[dt.date | None, dt.date | None, list[Open]]:
    opens: list[Open] = []

    def day(m: re.Match[str]) -> dt.date | None:
        try:
            return dt.date(int(m.group("y")), int(m.group("m")), int(m.group("d")))
        except ValueError:
            return None

    start = end = None
    d = DATE.pattern
    if m := re.search(rf"有效期(?:为)?自(?P<a>{d})(?:起)?至(?P<b>{d.replace('?P<', '?P<b')})", text):
        start = day(re.match(DATE, m.group("a")))  # type: ignore[arg-type]
        end = day(re.match(DATE, m.group("b")))  # type: ignore[arg-type]
        return start, end, opens
    if m := re.search(rf"自\s*(?P<a>{d})\s*起(?:施行|实施|执行|生效)?", text):
        start = day(DATE.search(m.group()))  # type: ignore[arg-type]
    elif re.search(r"自(?:印发|发布|公布)之日起", text):
        start = issued
        if issued is None:
            opens.append(Open("「自印发之日起施行」：文中没有印发日期，请填写生效日期", (0, 0)))
    if m := re.search(rf"(?:有效期至|有效期到|至)\s*(?P<a>{d})\s*(?:止|截止)?", text):
        end = day(DATE.search(m.group()))  # type: ignore[arg-type]
    elif m := re.search(r"有效期(?:为)?(\d+|[一二三四五六七八九十两])年", text):
        n = int(m.group(1)) if m.group(1).isdigit() else int(cn_number(m.group(1)) or 0)
        if start is not None and n:
            try:
                end = start.replace(year=start.year + n) - dt.timedelta(days=1)
            except ValueError:  # 2月29日
                end = start.replace(year=start.year + n, day=28)
    if start is None:
        opens.append(Open("未能识别生效日期：请填写 valid_from", (0, 0)))
    return start, end, opens


def _department(text: str, header: Header, region_name: str) -> str:
    if m := re.search(r"由([\u4e00-\u9fa5]{2,30}?)(?:会同[\u4e00-\u9fa5]{0,20})?负责解释", text):
        dep = m.group(1)
        if dep[:1] in "市区县省" and region_name:
            dep = region_name + dep[1:]
        return dep
    return header.issuer.split()[0] if header.issuer.split() else ""


def _slug(header: Header, article: str, n: int) -> str:
    digits = re.findall(r"\d+", header.number)
    base = "draft-" + "-".join(digits) if digits else "draft"
    idx = re.sub(r"[^0-9]", "", str(_article_number(article)))
    return f"{base}-a{idx or 0}" + (f"-{n}" if n > 1 else "")


def _article_number(label: str) -> int:
    last = re.findall(r"第([一二三四五六七八九十百零〇\d]+)条|（([一二三四五六七八九十]+)）|([一二三四五六七八九十]+)、|(\d+)\.", label)
    if not last:
        return 0
    g = next(x for x in last[-1] if x)
    return int(g) if g.isdigit() else int(cn_number(g) or 0)


class Drafter:
    def __init__(self, dictionary: TagDictionary, vocab: Vocabulary | None = None) -> None:
        self.d = dictionary
        self.vocab = vocab or Vocabulary(dictionary)
        self.reader = Reader(self.vocab)

    def draft(self, source: SourceText, today: dt.date | None = None) -> DraftDocument:
        """`today`: lint's reference date and the start date of a document that names none."""
        import time

        t0 = time.perf_counter()
        today = today or dt.date.today()
        header, articles = split(source.text)
        opens: list[Open] = []
        head_text = source.text[:articles[0].start] if articles else source.text
        region_hits = self.vocab.region_mentions(re.sub(r"\s", "", head_text))
        doc_region = region_hits[0][1] if region_hits else ""
        region_name = region_hits[0][0] if region_hits else ""
        if not doc_region:
            opens.append(Open("未能从标题和发文机关判断适用区域：请填写 regions", header.title_span))
        bodies = "".join(a.body.text for a in articles)
        valid_from, valid_to, vopen = _validity(bodies or source.text, header.issued)
        opens.extend(vopen)
        department = _department(bodies, header, region_name)
        if not department:
            opens.append(Open("未能识别主管部门：请填写 department", header.title_span))
        common: list[Part] = []
        regions: list[tuple[str, tuple[int, int]]] = []
        per_article: list[tuple[Article, list[tuple[list[Part], BenefitDraft]], list[Open]]] = []
        for art in articles:
            known: dict[str, str] = {}
            context: list[Part] = []
            found: list[tuple[list[Part], BenefitDraft]] = []
            art_opens: list[Open] = []
            readings = []
            for s in sentences(art.body):
                readings.append((s, self.reader.read(s, known)))
            has_benefit = any(r.benefits for _, r in readings)
            for s, r in readings:
                if r.benefits:
                    for b in r.benefits:
                        found.append((context + r.conditions, b))
                    art_opens.extend(r.opens + [Open(p, (s.span(0, len(s.text)))) for p in r.periods_assumed])
                elif has_benefit:
                    context = context + r.conditions
                    art_opens.extend(r.opens)
                elif r.opens and any(q.unit in ("元", "%") for q in quantities(s.text)) and not COMMON.search(s.text):
                    art_opens.extend(r.opens)  # a benefit the reader could not pair: said, not dropped
                elif COMMON.search(s.text) or r.excluded:
                    common.extend(r.conditions)
                    regions.extend(r.regions)
                    opens.extend(r.opens)
                for b in r.benefits:  # a region named in the benefit's own sentence scopes that benefit
                    b.extra.extend(Part("适用区域", code, "", span) for code, span in r.regions)
            if found or art_opens:
                per_article.append((art, found, art_opens))
        scope = sorted({code for code, _ in regions}) or ([doc_region] if doc_region else [])
        if not regions and doc_region:
            opens.append(Open(f"文中未写明注册地要求：适用区域按发文机关所在地（{region_name}）起草，请核对", header.title_span))
        drafts: list[Draft] = []
        for art, found, art_opens in per_article:
            if not found:
                opens.extend(art_opens)
                continue
            for n, (conds, benefit) in enumerate(found, start=1):
                pid = _slug(header, art.label, n if len(found) > 1 else 1)
                region_parts = [p for p in benefit.extra if p.role == "适用区域"]
                own_scope = sorted({p.rule for p in region_parts}) or scope
                cond_parts = _dedupe(common + conds + [p for p in benefit.extra if p.role == "条件"])
                drafts.append(self.build(pid, art, header, department, valid_from or today, valid_to, own_scope,
                                         cond_parts, benefit, art_opens, source, today))
        elapsed = time.perf_counter() - t0
        return DraftDocument(source, header, drafts, opens, elapsed)

    def build(self, pid: str, art: Article, header: Header, department: str, valid_from: dt.date,
              valid_to: dt.date | None, scope: list[str], conds: list[Part], benefit: BenefitDraft,
              opens: list[Open], source: SourceText, today: dt.date) -> Draft:
        summary = re.sub(r"\s+", "", source.text[art.start:art.end])[:300]
        title = f"{header.title or '（未识别标题）'} {art.label}"
        doc: dict[str, object] = {
            "id": pid, "version": 1, "title": title[:120], "department": department or "（待填写）",
            "summary": summary,
            "basis": {"document": header.title or "（待填写）", "number": header.number or "（待填写）", "article": art.label},
            "tier": "免申即享",
            "valid_from": valid_from.isoformat(),
        }
        if valid_to:
            doc["valid_to"] = valid_to.isoformat()
        doc["regions"] = scope
        doc["conditions"] = [{"id": f"c{i + 1}", "when": p.rule, "label": p.label[:80]} for i, p in enumerate(conds)]
        doc["benefit"] = _plain_numbers(benefit.formula)
        parts = conds + benefit.parts
        cases = boundary_cases(self.d, valid_from, valid_to, benefit.formula, conds, scope)
        if cases:
            doc["tests"] = cases
        text = _dump(doc)
        draft = Draft(pid, art.label, title, text, parts, list(opens))
        try:
            policy = load_policy_text(text, self.d, f"{pid}.yaml")
        except PolicyLoadError as exc:
            draft.problems = [str(p) for p in exc.problems]
            return draft
        for finding in lint(Library([policy], []), today):  # library lint, as for a policy file
            draft.opens.append(Open(f"检查：{finding.message}", art.body.span(0, 1)))
        if not cases:
            draft.policy = policy
            draft.opens.append(Open("未能自动生成测试用例（含增长率、多年汇总或否定的复合条件）：请补充", art.body.span(0, 1)))
            return draft
        # each case once through the reference evaluator: the amount an eligible case pays, for the
        # official to confirm, and any case whose status differs; both engines run them again when
        # the official opens the draft and when it is submitted
        draft.policy, draft.cases_failed = fill_amounts(policy, doc)
        draft.yaml = _dump(doc)  # the same document with the amounts: loads as `draft.policy` (tested)
        draft.cases = len(cases)
        return draft


def _dedupe(parts: list[Part]) -> list[Part]:
    seen: set[str] = set()
    out = []
    for p in parts:
        if p.rule not in seen:
            seen.add(p.rule)
            out.append(p)
    return out


def _plain_numbers(obj: object) -> object:
    """500万 stays as written; a plain integer is written as one (not a quoted string)."""
    if isinstance(obj, dict):
        return {k: _plain_numbers(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_plain_numbers(v) for v in obj]
    if isinstance(obj, str) and re.fullmatch(r"\d+", obj):
        return int(obj)
    return obj


def _dump(doc: dict[str, object]) -> str:
    """The draft as policy YAML: one line a field, condition and case, each value in JSON's flow
    syntax (a subset of YAML): as readable as block style and ten times faster to write than
    PyYAML's emitter, which was a third of the drafting time."""
    lines = [f"# {DRAFT_NOTE}"]
    for key, value in doc.items():
        if key in ("conditions", "tests") and isinstance(value, list) and value:
            lines.append(f"{key}:")
            lines.extend("  - " + json.dumps(item, ensure_ascii=False) for item in value)
        else:
            lines.append(f"{key}: {json.dumps(value, ensure_ascii=False)}")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------- boundary test cases

_SIMPLE = re.compile(r"^(?P<ref>[a-z0-9_]+(?:\[(?P<p>上年|前年|本年|上季度)\])?) (?P<op>>=|<=|>|<|==|!=) (?P<v>.+)$")


def _step(t: ir.TagType) -> Decimal:
    return Decimal(1).scaleb(-(2 if t.kind is ir.Kind.MONEY else t.scale))


def boundary_cases(d: TagDictionary, valid_from: dt.date, valid_to: dt.date | None, formula: dict[str, object],
                   conds: list[Part], scope: list[str]) -> list[dict[str, object]]:
    """Cases at, just below and just above each threshold, with every other condition met;
    the expected status follows the comparison as written. Drafts with a condition of another
    shape (growth, multi-year sums, a negated compound) get none: the official writes those."""
    values: dict[str, object] = {}
    bounds: dict[str, list[tuple[str, Decimal]]] = {}
    kinds: dict[str, ir.TagType] = {}
    for p in conds:
        try:
            pred = bind_condition(parse_condition(p.rule), d, p.rule, {})
        except ExpressionError:
            return []  # the loader names the problem
        rule = p.rule
        if re.fullmatch(r"[a-z0-9_]+", rule):
            values[rule] = True
            continue
        if m := re.fullmatch(r"not ([a-z0-9_]+)", rule):
            values[m.group(1)] = False
            continue
        if m := re.fullmatch(r"([a-z0-9_]+) in \((.+)\)", rule):
            values[m.group(1)] = re.findall(r'"([^"]+)"', m.group(2))[0]
            continue
        if m := re.fullmatch(r"industry under ([A-Z0-9]+)", rule):
            values["industry"] = _leaf_under(m.group(1), "industry")
            continue
        if m := re.fullmatch(r"([a-z0-9_]+) within (\d+) (years|months)", rule):
            values[m.group(1)] = "WITHIN"
            continue
        m = _SIMPLE.match(rule)
        if not m:
            return []
        ref, op, raw = m.group("ref"), m.group("op"), m.group("v")
        tag = ir.tags_of(pred)
        t = ir.tag_type(pred, tag[0]) if tag else None
        if t is None:
            return []
        if op in ("==", "!="):
            v = raw.strip('"')
            values[ref] = v if op == "==" else next(x for x in t.values if x != v)
            continue
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", raw):
            day = dt.date.fromisoformat(raw) + dt.timedelta(days={">": 1, "<": -1}.get(op, 0))
            values[ref] = day.isoformat()
            continue
        kinds[ref] = t
        bounds.setdefault(ref, []).append((op, _num(raw)))
    as_of = min(valid_from + dt.timedelta(days=30), valid_to or dt.date.max)
    for k, v in list(values.items()):
        if v == "WITHIN":
            values[k] = (as_of - dt.timedelta(days=10)).isoformat()
    base: dict[str, object] = dict(values)
    if scope:
        base["region"] = _leaf_under(scope[0], "region")
    chosen: dict[str, Decimal] = {}
    for ref, bs in bounds.items():
        step = _step(kinds[ref])
        lo = max((v + (step if op == ">" else 0) for op, v in bs if op in (">", ">=")), default=None)
        hi = min((v - (step if op == "<" else 0) for op, v in bs if op in ("<", "<=")), default=None)
        value = lo if lo is not None else hi if hi is not None else Decimal(1)
        if hi is not None and lo is not None and lo > hi:
            return []
        chosen[ref] = value
    for ref, v in chosen.items():
        base[ref] = _yaml_number(v)
    for ref, given in _formula_inputs(d, formula).items():  # the amount's inputs, where no condition set them
        base.setdefault(ref, given)

    def holds(vals: dict[str, Decimal]) -> bool:
        return all(_cmp(vals[ref], op, v) for ref, bs in bounds.items() for op, v in bs)

    cases: list[dict[str, object]] = [{"name": "全部条件满足", "as_of": as_of.isoformat(), "tags": dict(base),
                                       "expect": {"status": "eligible"}}]
    for key, v in values.items():  # a status the policy asks for, reversed: not eligible
        if isinstance(v, bool):
            tags = dict(base)
            tags[key] = not v
            cases.append({"name": f"{key} 为 {'否' if v else '是'}", "as_of": as_of.isoformat(), "tags": tags,
                          "expect": {"status": "not_eligible"}})
    for ref, bs in bounds.items():
        step = _step(kinds[ref])
        for op, v in bs:
            for label, value in (("恰为", v), ("低一档", v - step), ("高一档", v + step)):
                if value < 0 and not kinds[ref].signed:
                    continue
                vals = dict(chosen)
                vals[ref] = value
                tags = dict(base)
                tags[ref] = _yaml_number(value)
                status = "eligible" if holds(vals) else "not_eligible"
                name = f"{ref} {label} {_yaml_number(value)}（条件 {op} {_yaml_number(v)}）"
                if not any(c["name"] == name for c in cases):
                    cases.append({"name": name, "as_of": as_of.isoformat(), "tags": tags, "expect": {"status": status}})
    return cases[:16]


def _formula_inputs(d: TagDictionary, formula: dict[str, object]) -> dict[str, object]:
    """A value for each tag the benefit reads: 200万 this year over 100万 the year before, so an
    increment is positive; 10 of a count."""
    out: dict[str, object] = {}
    texts = [str(body[k]) for body in formula.values() if isinstance(body, dict)
             for k in ("of", "quantity", "by") if k in body]
    for text in texts:
        try:
            bound = bind_value(parse_value(text), d, text, ir.NUMERIC_KINDS, "金额的计算依据", {})
        except ExpressionError:
            continue
        for node in _walk(bound):
            if isinstance(node, ir.Tag) and node.type is not None:
                name = f"{node.name}[{node.period.zh}]" if node.period is not None else node.name
                if node.type.kind is ir.Kind.MONEY:
                    out[name] = 1000000 if node.period is not None and node.period.offset == -2 else 2000000
                elif node.type.kind is ir.Kind.NUMBER:
                    out[name] = 10
    return out


def _walk(node: object) -> list[object]:
    out = [node]
    for c in ir.children(node):
        out.extend(_walk(c))
    return out


def _cmp(a: Decimal, op: str, b: Decimal) -> bool:
    return {">": a > b, ">=": a >= b, "<": a < b, "<=": a <= b}[op]


def _yaml_number(v: Decimal) -> object:
    return int(v) if v == v.to_integral_value() else str(v)


def fill_amounts(policy: ir.Policy, doc: dict[str, object]) -> tuple[ir.Policy, list[str]]:
    """Each case evaluated once: the amount an eligible case pays, written into `doc` and into the
    policy's cases alike; the cases whose status differs from the one expected."""
    import dataclasses

    specs = doc["tests"]
    assert isinstance(specs, list)
    cases, failed = [], []
    for case, spec in zip(policy.cases, specs):
        got = reference.evaluate(policy, dict(case.tags), case.as_of)
        if got.status.label != case.status:
            failed.append(f"{case.name}：预期「{STATUS_ZH[case.status]}」，实为「{STATUS_ZH[got.status.label]}」")
        elif got.status is ir.Status.ELIGIBLE:
            amount = Decimal(got.amount_fen) / 100
            spec["expect"]["amount"] = str(amount)
            case = dataclasses.replace(case, amount=amount)
        cases.append(case)
    return dataclasses.replace(policy, cases=tuple(cases)), failed


def _leaf_under(code: str, hierarchy: str) -> str:
    """The first code at the bottom of the table under `code` (C → C13…; 340100 → 340102): a
    value any `under` condition on `code` holds for."""
    children = code_children(hierarchy)
    while children.get(code):
        code = children[code][0]
    return code


def draft_document(source: SourceText, dictionary: TagDictionary) -> DraftDocument:
    return Drafter(dictionary).draft(source)


__all__ = ["Draft", "DraftDocument", "Drafter", "View", "draft_document"]
