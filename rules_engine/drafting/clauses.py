"""One sentence of a support clause read into conditions and a benefit, each part with the
span of text it came from. Nothing is guessed: a phrase the vocabulary does not name, a number
without a measure, a sentence with amounts it cannot pair, stays an open item with its text.

Boundaries follow 《民法典》第一千二百五十九条 and GB/T 1.1 usage: 以上、以下、以内、不低于、不少于、
不超过、达到、满 include the number (>=, <=); 超过、高于、低于、不足、未满、不满 exclude it (>, <)."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from decimal import Decimal

from ..data.tags import TagDef
from ..ir import Kind
from ..periods import PeriodKind
from .numbers import DATE, Quantity, literal, number, quantities
from .structure import View
from .vocabulary import LEVEL_WORDS, Mention, Vocabulary

PRE = {"不低于": ">=", "不少于": ">=", "不小于": ">=", "达到": ">=", "满": ">=", "达": ">=", "在": "", "为": "",
       "超过": ">", "高于": ">", "大于": ">", "多于": ">",
       "低于": "<", "少于": "<", "小于": "<", "不足": "<", "未满": "<", "不满": "<",
       "不超过": "<=", "不高于": "<="}
POST = {"（含）以上": ">=", "(含)以上": ">=", "及以上": ">=", "以上": ">=",
        "（含）以下": "<=", "(含)以下": "<=", "及以下": "<=", "以下": "<=", "以内": "<="}
PRE_RE = re.compile("(" + "|".join(sorted(PRE, key=len, reverse=True)) + ")$")
POST_RE = re.compile("(" + "|".join(re.escape(p) for p in sorted(POST, key=len, reverse=True)) + ")")
GROWTH_RE = re.compile(r"(?:较(?P<base>上一?年度?|前年|去年)(?:同期)?|同比)?(?:增长|增幅|增速)(?:率|幅度)?")
PERIOD_RE = re.compile(r"(?P<p>上一?年度?末?|去年|前年|本年度?|当年|今年|上一?季度|本季度|"
                       r"近(?P<n>\d+|[一二三四五六七八九十两]+)(?P<u>年|个季度|个月))")
NEGATION = ("未被列入", "未列入", "未纳入", "不属于", "不得为", "不得是", "不是", "未被", "没有", "无", "非")
EXCLUSION = re.compile(r"不适用于|不得享受|不予享受|不予支持|不得申报|不得申请|不予兑现|取消.{0,6}资格")
CONJ = set("、和及与或，且并") | {"以及"}
NEW_QUALIFIER = re.compile(r"(首次认定|首次获评|新认定|新获评|新获批|新纳入|新入选|新入库|新晋|新获)(为|的)?$")
BENEFIT_ANCHOR = re.compile(r"每(?:人|名|件|项|户|个)(?=给予|\d|[一二三四五六七八九十两])|按其|按照|按|给予")
BENEFIT_WORDS = re.compile(r"奖励|补助|补贴|资助|奖补|返还|扶持资金")
CAP_RE = re.compile(r"(?:最高|最多|上限为?|封顶|总额不超过|累计不超过)(?:不超过|为)?$")
CN_COUNT = "一二三四五六七八九十两"


@dataclass
class Part:
    """A piece of a draft and where it came from."""

    role: str  # 条件 | 金额 | 上限 | 分档 | 数量 | 基数
    rule: str  # the condition expression, or the amount as written in the draft
    label: str  # the source text, as a label
    span: tuple[int, int]


@dataclass
class Open:
    message: str
    span: tuple[int, int]
    quote: str = ""


@dataclass
class BenefitDraft:
    formula: dict[str, object]
    parts: list[Part]
    extra: list[Part] = field(default_factory=list)  # conditions that belong to this benefit only


@dataclass
class SentenceReading:
    conditions: list[Part] = field(default_factory=list)
    benefits: list[BenefitDraft] = field(default_factory=list)
    regions: list[tuple[str, tuple[int, int]]] = field(default_factory=list)
    opens: list[Open] = field(default_factory=list)
    excluded: bool = False
    periods_assumed: list[str] = field(default_factory=list)


def _relative(m: re.Match[str]) -> tuple[str, str]:
    """(period kind, the period as the language writes it) of a period word."""
    p = m.group("p")
    if m.group("n"):
        num = int(number(m.group("n")) or 0)
        unit = m.group("u")
        return ("year" if unit == "年" else "quarter" if unit == "个季度" else "month"), f"近{num}{unit}"
    if "季度" in p:
        return "quarter", "上季度" if p.startswith("上") else "本季度"
    if p.startswith("前年"):
        return "year", "前年"
    if p.startswith(("本年", "当年", "今年")):
        return "year", "本年"
    return "year", "上年"


class Reader:
    def __init__(self, vocab: Vocabulary) -> None:
        self.vocab = vocab
        self.d = vocab.dictionary

    # ------------------------------------------------------------------ helpers

    def tag(self, m: Mention, period_kind: str | None) -> TagDef | None:
        keys = self.vocab.alternates.get(m.phrase, [m.meaning.key])
        defs = [t for t in (self.d.resolve(k) for k in keys) if t is not None]
        if period_kind:
            for t in defs:
                if t.periodic and t.period.value == period_kind:
                    return t
        return defs[0] if defs else None

    @staticmethod
    def fits(t: TagDef, q: Quantity) -> bool:
        if t.kind is Kind.MONEY:
            return q.unit == "元"
        unit = t.type.unit
        if unit == "%":
            return q.unit == "%"
        if unit in ("人", "件", "月"):
            return q.unit in (unit, "")
        return q.unit == ""

    # ------------------------------------------------------------------ a sentence

    def read(self, s: View, known_periods: dict[str, str]) -> SentenceReading:
        out = SentenceReading()
        text = s.text
        out.excluded = bool(EXCLUSION.search(text))
        anchor = self.anchor(text)
        cond_end = anchor if anchor is not None else len(text)
        mentions = self.vocab.mentions(text)
        covered: list[tuple[int, int]] = []
        for _name, code, a, b in self.vocab.region_mentions(text):
            if not any(m.start < b and a < m.end for m in mentions):
                out.regions.append((code, s.span(a, b)))
                covered.append((a, b))
        measures: dict[str, list[Quantity]] = {}  # tag → thresholds listed for tiers
        counts: list[tuple[TagDef, Mention]] = []
        levels: list[tuple[str, list[str], Mention]] = []
        neg_active = False
        prev_end = 0
        for k, m in enumerate(mentions):
            nxt = mentions[k + 1].start if k + 1 < len(mentions) else len(text)
            before = text[prev_end:m.start]
            between_is_conj = prev_end > 0 and all(c in CONJ for c in before)
            neg_here = any(before.endswith(w) or before.rstrip("的").endswith(w) for w in NEGATION)
            neg_here = neg_here or any(w in before[-6:] for w in ("未列入", "未被列入", "不得为"))
            negated = neg_here or (neg_active and between_is_conj)
            neg_active = negated
            covered.append((m.start, m.end))
            in_benefit = anchor is not None and m.start >= anchor
            if m.meaning.kind in ("phrase", "industry"):
                if not in_benefit:
                    self.add(out, s, m.meaning.key, text[m.start:m.end], (m.start, m.end), negated)
                prev_end = m.end
                continue
            if m.meaning.kind == "level":
                words = re.findall("|".join(LEVEL_WORDS), before[-8:] + text[m.start:m.end])
                if not words:
                    out.opens.append(Open(f"「{m.phrase}」未写明级别（国家级、省级、市级）", s.span(m.start, m.end), m.phrase))
                else:
                    levels.append((m.meaning.level_tag, words, m))
                    if NEW_QUALIFIER.search(before.rstrip("国家级省市、")):
                        out.opens.append(Open(f"「新认定」：标签库没有{m.phrase}的认定日期，未作条件，请核对",
                                              s.span(m.start, m.end), m.phrase))
                prev_end = m.end
                continue
            pm = None
            for pm_ in PERIOD_RE.finditer(before[-12:]):
                pm = pm_
            t = self.tag(m, _relative(pm)[0] if pm else None)
            if t is None:
                prev_end = m.end
                continue
            period = None
            if pm is not None and len(before[-12:]) - pm.end() <= 5:
                period = _relative(pm)
            if t.kind is Kind.BOOL:
                if not in_benefit:
                    self.bool_mention(out, s, t, m, before, negated)
                prev_end = m.end
                continue
            if t.kind is Kind.DATE:
                self.date_mention(out, s, t, m, before, text[m.end:nxt], covered)
                prev_end = m.end
                continue
            if t.kind not in (Kind.MONEY, Kind.NUMBER):
                prev_end = m.end
                continue
            if in_benefit:
                prev_end = m.end
                continue
            ref = t.key if period and period[1].startswith("近") else self.ref(t, period, known_periods, out)
            after_end = min(nxt, cond_end)
            used = self.comparisons(out, s, t, m, ref, period, before, m.end, after_end, measures, covered)
            if not used:
                if t.type.unit in ("人", "件"):
                    counts.append((t, m))
                elif period and period[1].startswith("近") and re.search(r"每年均有|每年都有|连续.{0,3}有", before[-8:]):
                    self.add(out, s, f"每年({t.key}, {period[1]}) > 0", text[m.start:m.end], (m.start, m.end), negated)
            prev_end = m.end
        self.benefit(out, s, anchor, measures, counts, levels, known_periods, covered)
        if out.excluded:
            out.conditions = [self.negate(p) for p in out.conditions]
        self.leftovers(out, s, covered, cond_end)
        return out

    def anchor(self, text: str) -> int | None:
        """Where the benefit begins: the first 按 / 给予 / 每人 after which an amount follows."""
        for m in BENEFIT_ANCHOR.finditer(text):
            rest = text[m.start():]
            if any(q.unit in ("元", "%") for q in quantities(rest)):
                return m.start()
        for q in quantities(text):
            if q.unit == "元" and BENEFIT_WORDS.search(text[q.end:q.end + 6] + text[max(0, q.start - 6):q.start]):
                return q.start
        return None

    def ref(self, t: TagDef, period: tuple[str, str] | None, known: dict[str, str], out: SentenceReading) -> str:
        if not t.periodic:
            return t.key
        if period and not period[1].startswith("近") and period[0] == t.period.value:
            known[t.key] = period[1]
            return f"{t.key}[{period[1]}]"
        if t.key in known:
            return f"{t.key}[{known[t.key]}]"
        default = "上季度" if t.period is PeriodKind.QUARTER else "上月" if t.period is PeriodKind.MONTH else "上年"
        out.periods_assumed.append(f"{t.label}未写明期间，按{default}起草")
        known[t.key] = default
        return f"{t.key}[{default}]"

    def add(self, out: SentenceReading, s: View, rule: str, label: str, span: tuple[int, int], negated: bool) -> None:
        p = Part("条件", rule, label, s.span(*span))
        out.conditions.append(self.negate(p) if negated else p)

    @staticmethod
    def negate(p: Part) -> Part:
        rule = p.rule
        if re.fullmatch(r"not [a-z0-9_]+", rule):
            rule = rule[4:]
        elif re.fullmatch(r"[a-z0-9_]+", rule):
            rule = f"not {rule}"
        elif " == " in rule and " and " not in rule and " or " not in rule:
            rule = rule.replace(" == ", " != ")
        else:
            rule = f"not ({rule})"
        return Part(p.role, rule, p.label, p.span)

    def bool_mention(self, out: SentenceReading, s: View, t: TagDef, m: Mention, before: str, negated: bool) -> None:
        self.add(out, s, t.key, m.phrase, (m.start, m.end), negated)
        date_key = self.vocab.dates.get(t.key)
        if negated or not date_key:
            return
        tail = before[-24:]
        explicit = None
        for d in DATE.finditer(tail):
            if re.match(r"(以后|之后|以来|起)", tail[d.end():]):
                explicit = d
        start = m.start - len(tail)
        if explicit is not None:
            day = dt.date(int(explicit.group("y")), int(explicit.group("m")), int(explicit.group("d")))
            out.conditions.append(Part("条件", f"{date_key} >= {day.isoformat()}", tail[explicit.start():] + m.phrase,
                                       s.span(start + explicit.start(), m.end)))
        elif q := NEW_QUALIFIER.search(before):
            out.conditions.append(Part("条件", f"{date_key} within 12 months", q.group(1) + m.phrase,
                                       s.span(m.start - len(before) + q.start(), m.end)))

    def date_mention(self, out: SentenceReading, s: View, t: TagDef, m: Mention, before: str, after: str,
                     covered: list[tuple[int, int]]) -> None:
        e = re.match(rf"(?:之日起|以来)?(?:未满|不满|不足)?(?P<n>\d+|[{CN_COUNT}])(?P<u>年|个月)(?:以内|内)?", after)
        if e:
            n = int(number(e.group("n")) or 0)
            unit = "years" if e.group("u") == "年" else "months"
            out.conditions.append(Part("条件", f"{t.key} within {n} {unit}", m.phrase + after[:e.end()],
                                       s.span(m.start, m.end + e.end())))
            covered.append((m.end, m.end + e.end()))
            return
        tail = before[-24:]
        for d in DATE.finditer(tail):
            rest = tail[d.end():]
            if re.match(r"(以后|之后|以来|起)", rest):
                day = dt.date(int(d.group("y")), int(d.group("m")), int(d.group("d")))
                a = m.start - len(tail) + d.start()
                out.conditions.append(Part("条件", f"{t.key} >= {day.isoformat()}", tail[d.start():] + m.phrase,
                                           s.span(a, m.end)))
                covered.append((a, m.start))

    def comparisons(self, out: SentenceReading, s: View, t: TagDef, m: Mention, ref: str,
                    period: tuple[str, str] | None, before: str, a: int, b: int,
                    measures: dict[str, list[Quantity]], covered: list[tuple[int, int]]) -> bool:
        """The comparisons written after a measure, up to the next measure: 在100万元以上、2000万元以下;
        达到1亿元、5亿元、10亿元 (a list: the tiers); 超过100万元且较前年增长20%以上."""
        text = s.text
        seg = text[a:b]
        window = period and period[1].startswith("近")
        agg = None
        if window:
            if re.match(r"(累计|合计|总计|总额)", seg):
                agg = "sum"
            elif re.match(r"(均|每年均|每年都)", seg) or re.search(r"(每年均|每年都)$", before):
                agg = "each" if re.search(r"每年", seg[:4] + before[-4:]) else "min"
        found = False
        last_op = None
        pos = 0
        listed: list[Quantity] = []
        for q in quantities(seg):
            gap = seg[pos:q.start]
            g = GROWTH_RE.search(gap)
            pre = PRE_RE.search(gap)
            post = POST_RE.match(seg, q.end)
            op_pre = PRE.get(pre.group(1), "") if pre else ""
            op_post = POST.get(post.group(1), "") if post else ""
            if op_pre == ">" and op_post == ">=":
                op = ">"
            else:
                op = op_pre or op_post
            end = post.end() if post else q.end
            if g and q.unit == "%" and t.kind in (Kind.MONEY, Kind.NUMBER) and t.periodic:
                op = op or ">="
                cur = period[1] if period and not period[1].startswith("近") else "上年"
                base = g.group("base")
                base_txt = ""
                if base:
                    base_txt = ", 前年" if base == "前年" else ""
                    if base.startswith(("上", "去")) and cur == "上年":
                        base_txt = ""
                rule = f"growth({t.key}, {cur}{base_txt}) {op} {literal(q.value)}%"
                out.conditions.append(Part("条件", rule, text[m.start:m.end] + seg[g.start():end],
                                           s.span(m.start, a + end)))
                covered.append((a + pos, a + end))
                found, last_op, pos = True, None, end
                continue
            if not self.fits(t, q):
                pos = end
                continue
            if not op and last_op and gap in ("、", "，") and listed:
                op = last_op  # 达到1亿元、5亿元: the comparison carries over the list
                listed.append(q)
            elif not op:
                pos = end
                continue
            else:
                listed = [q]
            last_op = op
            value = literal(q.value)
            if agg == "sum":
                rule = f"sum({t.key}, {period[1]}) {op} {value}"  # type: ignore[index]
            elif agg in ("min", "each"):
                rule = (f"每年({t.key}, {period[1]}) {op} {value}" if agg == "each"  # type: ignore[index]
                        else f"min({t.key}, {period[1]}) {op} {value}" if op in (">", ">=")  # type: ignore[index]
                        else f"max({t.key}, {period[1]}) {op} {value}")  # type: ignore[index]
            else:
                rule = f"{ref} {op} {value}"
            if len(listed) > 1:
                measures.setdefault(ref, listed[:1]).append(q)
                covered.append((a + pos, a + end))
                pos = end
                continue
            measures[ref] = [q]
            out.conditions.append(Part("条件", rule, text[m.start:m.end] + seg[:end] if not found else seg[pos:end],
                                       s.span(m.start if not found else a + pos, a + end)))
            covered.append((a + pos, a + end))
            found = True
            pos = end
        return found

    # ------------------------------------------------------------------ the benefit

    def benefit(self, out: SentenceReading, s: View, anchor: int | None, measures: dict[str, list[Quantity]],
                counts: list[tuple[TagDef, Mention]], levels: list[tuple[str, list[str], Mention]],
                known: dict[str, str], covered: list[tuple[int, int]]) -> None:
        if anchor is None:
            for tag, words, m in levels:  # 国家级、省级绿色工厂 with no benefit in this sentence
                self.add(out, s, self.level_rule(tag, words), "".join(words) + m.phrase, (m.start, m.end), False)
            return
        text = s.text
        ben = text[anchor:]
        qs = quantities(ben, anchor)
        money = [q for q in qs if q.unit == "元"]
        parts: list[Part] = []
        cap = None
        for q in money:
            if CAP_RE.search(text[max(anchor, q.start - 12):q.start]):
                cap = q
        if cap is not None:
            money.remove(cap)
            parts.append(Part("上限", literal(cap.value), text[cap.start:cap.end], s.span(cap.start, cap.end)))
        formula: dict[str, object] | None = None
        pct = next((q for q in qs if q.unit == "%"), None)
        per = re.search(r"每(人|名|件|项|户|个)(?:给予|补贴|奖励|补助)?(?:标准)?", ben)
        several = "分别" in text and len(money) >= 2
        if pct is not None and text[pct.start - 1:pct.start] == "的":
            base_text = text[anchor:pct.start]
            inc = re.search(r"增量|增长部分|新增部分|增加部分", base_text)
            base_m = [m for m in self.vocab.mentions(base_text) if m.meaning.kind == "tag"]
            pm = None
            for pm_ in PERIOD_RE.finditer(base_text):
                if base_m and pm_.end() <= base_m[-1].start:  # the period before the measure, not 较前年
                    pm = pm_
            period = _relative(pm) if pm else None
            t = self.tag(base_m[-1], period[0] if period else None) if base_m else None
            if t is None or t.kind is not Kind.MONEY:
                out.opens.append(Open("按比例计算的金额：未能识别计算基数", s.span(anchor, pct.end), text[anchor:pct.end]))
                return
            ref = self.ref(t, period, known, out)
            of = f"{ref} - {t.key}[前年]" if inc and t.periodic and ref.endswith("[上年]") else ref
            if inc and not t.periodic:
                out.opens.append(Open("增量部分：该标签不分年度，无法计算增量", s.span(anchor, pct.end), base_text))
                return
            formula = {"percent": {"of": of, "rate": f"{literal(pct.value)}%"}}
            parts.append(Part("金额", f"{of} × {literal(pct.value)}%", text[anchor:pct.end], s.span(anchor, pct.end)))
            if inc and not any(c.rule.startswith(f"{t.key}[") and ">" in c.rule for c in out.conditions):
                out.opens.append(Open(f"按增量计算：是否要求{t.label}较前年增长（增量大于0）？请核对",
                                      s.span(anchor, pct.end), base_text))
        elif per is not None and money:
            rate = next((q for q in money if q.start >= anchor + per.start()), money[0])
            unit = {"名": "人", "项": "件"}.get(per.group(1), per.group(1))
            fitting = [(t, m) for t, m in counts if t.type.unit == unit]
            if not fitting:
                fitting = [(t, m) for t, m in counts]
            if not fitting:
                for m in self.vocab.mentions(text[:anchor + per.start()]):
                    t = self.tag(m, None)
                    if t is not None and t.type.unit == unit:
                        fitting.append((t, m))
            if not fitting:
                out.opens.append(Open(f"按每{per.group(1)}计算：未能识别计数的标签", s.span(anchor, rate.end),
                                      text[anchor:rate.end]))
                return
            t, m = fitting[-1]
            formula = {"per_unit": {"quantity": t.key, "rate": yuan(rate.value)}}
            parts.append(Part("金额", f"{t.key} × {literal(rate.value)}", text[anchor:rate.end], s.span(anchor, rate.end)))
            if not any(c.rule.startswith(t.key + " ") for c in out.conditions):
                out.conditions.append(Part("条件", f"{t.key} >= 1", m.phrase, s.span(m.start, m.end)))
            money.remove(rate)
        elif several:
            tiers_of = [(ref, qs_) for ref, qs_ in measures.items() if len(qs_) == len(money)]
            level_alts = [(tag, words, m) for tag, words, m in levels]
            flat = [(tag, w, m) for tag, words, m in level_alts for w in words]
            if tiers_of:
                ref, ths = tiers_of[0]
                tiers = [{"at_least": literal(th.value), "amount": yuan(am.value)} for th, am in zip(ths, money)]
                tiers.sort(key=lambda x: Decimal(str(_num(x["at_least"]))), reverse=True)
                formula = {"tiers": {"by": ref, "tiers": tiers}}
                parts.append(Part("分档", "；".join(f"{t['at_least']}起 {t['amount']}" for t in tiers),
                                  text[anchor:money[-1].end], s.span(anchor, money[-1].end)))
                for c in out.conditions:  # the condition is the lowest tier
                    if c.rule.startswith(ref + " "):
                        c.rule = f"{ref} >= {literal(min(th.value for th in ths))}"
            elif len(flat) == len(money):
                for (tag, w, m), q in zip(flat, money):
                    extra = [Part("条件", f'{tag} == "{w}"', w + m.phrase, s.span(m.start, m.end))]
                    out.benefits.append(BenefitDraft({"fixed": yuan(q.value)},
                                                     [Part("金额", literal(q.value), text[q.start:q.end], s.span(q.start, q.end))]
                                                     + parts, extra))
                return
            else:
                out.opens.append(Open(f"「分别」给予 {len(money)} 个金额，未能与条件一一对应：请拆分为多条政策",
                                      s.span(anchor, money[-1].end), text[anchor:money[-1].end]))
                return
        elif len(money) == 1:
            q = money[0]
            formula = {"fixed": yuan(q.value)}
            parts.append(Part("金额", literal(q.value), text[q.start:q.end], s.span(q.start, q.end)))
        elif len(money) > 1:
            out.opens.append(Open(f"一句中有 {len(money)} 个金额，未能判断哪一个是兑现金额", s.span(anchor, len(text)),
                                  text[anchor:]))
            return
        else:
            out.opens.append(Open("未能识别兑现金额", s.span(anchor, len(text)), text[anchor:]))
            return
        for tag, words, m in levels:
            self.add(out, s, self.level_rule(tag, words), "".join(words) + m.phrase, (m.start, m.end), False)
        if cap is not None:
            formula = {**formula, "cap": yuan(cap.value)}
        covered.append((anchor, len(text)))
        out.benefits.append(BenefitDraft(formula, parts))

    @staticmethod
    def level_rule(tag: str, words: list[str]) -> str:
        if len(words) == 1:
            return f'{tag} == "{words[0]}"'
        return f"{tag} in (" + ", ".join(f'"{w}"' for w in words) + ")"

    # ------------------------------------------------------------------ what was not read

    STOP = re.compile(r"^(对|对于|凡|企业|的|其|在|为|和|及|且|并|或|等|经|已|上述|以上|本政策|本办法|本措施|本通知|"
                      r"享受|申请|申报|适用于|适用|须|应|方可|不得|可|给予|符合|条件|相关|依法|注册|登记|行政区域内|"
                      r"范围内|地|均|同时|满足|下列|之一|一次性|新|当年|上年度|上年|年度|标准|单位|企业的|的企业|是指|所称|"
                      r"纳税地|注册地|我市|本市|本区|我区|本省|我省|本县|是|被|列入|名单|记录|获得|认定|首次|新认定|"
                      r"以后|之后|以来|起|之日起|内|以内|以上|以下|及以上|（含）|中|当年新|新获|获|引进|招用|新招用|安置|入库|"
                      r"研制|资格|具有|应当|除外|支持|鼓励|按|就高|原则|不重复|分别|未列入|未被列入|上述政策|本通知政策|本通知|"
                      r"国家级|省级|市级|不适用于|方可享受|方可|外贸|行政区域|范围|所在地)+$")

    STOP_WORD = re.compile(r"以上政策|上述政策|本办法|本政策|本措施|本通知|奖励|享受|申请|企业|须|应|方可|无|每年均有|每年都有|"
                           r"新纳入|新认定|新获评|首次认定|适用于|在|的|其|且|并|和|及|上一?年度?末?|去年|前年|当年|本年度?|上一?季度|每季度|每年")

    def leftovers(self, out: SentenceReading, s: View, covered: list[tuple[int, int]], cond_end: int) -> None:
        """Fragments of the condition part that no rule read: open items, never dropped."""
        text = s.text
        mask = [False] * len(text)
        for a, b in covered:
            for i in range(max(0, a), min(b, len(text))):
                mask[i] = True
        for d in DATE.finditer(text):
            for i in range(d.start(), d.end()):
                mask[i] = True
        i = 0
        end = cond_end
        while i < end:
            if mask[i] or text[i] in "，、；：。（）()":
                i += 1
                continue
            j = i
            while j < end and not mask[j] and text[j] not in "，、；：。":
                j += 1
            frag = text[i:j]
            core = re.sub(r"(的|且|并|和|及|或)+$", "", re.sub(r"^(且|并|和|及|或|对|的)+", "", frag))
            rest = self.STOP_WORD.sub("", EXCLUSION.sub("", core))
            if len(re.findall(r"[\u4e00-\u9fa5]", rest)) >= 2 and not self.STOP.match(core):
                out.opens.append(Open(f"未能识别的条件：「{core}」", s.span(i, j), core))
            i = j


def yuan(v: Decimal) -> str:
    """An amount of money as the library writes it: yuan, no 万 (fixed: 300000)."""
    return format(v.quantize(Decimal("0.01")).normalize(), "f") if v != v.to_integral_value() else str(int(v))


def _num(lit: object) -> Decimal:
    s = str(lit)
    if s.endswith("亿"):
        return Decimal(s[:-1]) * 10 ** 8
    if s.endswith("万"):
        return Decimal(s[:-1]) * 10 ** 4
    return Decimal(s)
