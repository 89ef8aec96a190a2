"""The tag dictionary (标签库): what each enterprise tag is, its type, unit and source."""

from __future__ import annotations

import datetime as dt
import difflib
from dataclasses import dataclass, replace
from pathlib import Path

import yaml

from ..errors import EngineError
from ..ir import Kind, TagType
from ..periods import PeriodKind, parse_period, slot, split_slot

DEFAULT_DICTIONARY = Path(__file__).resolve().parents[2] / "enterprises" / "tags.yaml"


@dataclass(frozen=True, slots=True)
class Source:
    key: str
    label: str  # department, e.g. 市场监督管理局
    frequency: str  # how often it refreshes its data


def _prefer(value: object) -> str:
    if value not in ("delivered", "derived"):
        raise ValueError(f"prefer 应为 delivered 或 derived，实为 {value!r}")
    return str(value)


@dataclass(frozen=True, slots=True)
class TagDef:
    key: str
    label: str
    type: TagType
    source: str  # Source.key
    group: str = ""
    description: str = ""
    personal: bool = False  # masked in every output by default
    derived: bool = False  # computed from other tags where no source delivered it
    prefer: str = "delivered"  # for a derived tag both delivered and computed: which value wins
    inputs: tuple[str, ...] = ()  # for a derived tag: the tags its derivation reads
    period: PeriodKind = PeriodKind.INSTANT  # year/quarter/month: stored per period delivered (slots)

    @property
    def periodic(self) -> bool:
        return self.period is not PeriodKind.INSTANT

    @property
    def kind(self) -> Kind:
        return self.type.kind

    def unit_label(self) -> str:
        if self.type.kind is Kind.MONEY:
            return "元"
        return self.type.unit


class TagDictionary:
    def __init__(self, tags: list[TagDef], sources: dict[str, Source]) -> None:
        self.tags = {t.key: t for t in tags}
        self.by_label = {t.label: t for t in tags}
        self.sources = sources

        self._slots: dict[str, TagDef | None] = {}

    def slot(self, name: str) -> TagDef | None:
        """The definition of one period of a periodic tag (`tax_paid@2025`, labelled
        2025年度纳税总额); None if `name` is no valid slot."""
        if name in self._slots:
            return self._slots[name]
        tag, period = split_slot(name)
        base = self.tags.get(tag)
        out = None
        if base is not None and base.periodic and period:
            try:
                p = parse_period(period)
            except ValueError:
                p = None
            if p is not None and p.kind is base.period and p.text == period:
                # 季度纳税额 of 2026Q1 reads 2026年第1季度纳税额, not ...季度季度纳税额
                out = replace(base, key=name, label=f"{p.zh}{base.label.removeprefix(base.period.zh)}")
        if len(self._slots) < 100_000:
            self._slots[name] = out
        return out

    def __contains__(self, key: object) -> bool:
        return key in self.tags or (isinstance(key, str) and self.slot(key) is not None)

    def __getitem__(self, key: str) -> TagDef:
        hit = self.tags.get(key) or self.slot(key)
        if hit is None:
            raise KeyError(key)
        return hit

    def delivered_slot(self, t: TagDef, period: str, delivered: dt.date | None) -> str:
        """The slot a delivered value of periodic tag `t` for `period` fills. ValueError, in Chinese,
        for a period that is no period, of another kind than the tag's, or not begun by the date
        it was delivered (a department file's column, an event)."""
        p = parse_period(period)
        if p.kind is not t.period:
            raise ValueError(f"{t.key}（{t.label}）按{t.period.zh}报送，期间 {p.text} 是{p.kind.zh}")
        if delivered is not None and p.start > delivered:
            raise ValueError(f"{t.key}（{t.label}）的期间 {p.zh} 晚于数据日期 {delivered}（尚未开始的期间）")
        return slot(t.key, p)

    def base(self, key: str) -> TagDef:
        """The tag a slot is a period of (the tag itself for a plain tag)."""
        return self.tags[split_slot(key)[0]]

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self.tags.values())

    def __len__(self) -> int:
        return len(self.tags)

    def resolve(self, name: str) -> TagDef | None:
        """A tag by key or by its Chinese label (a slot by its key)."""
        return self.tags.get(name) or self.by_label.get(name) or (self.slot(name) if "@" in name else None)

    def suggest(self, name: str) -> str | None:
        """The nearest tag keys or labels to a misspelt name, e.g. "revenue (上年营业收入)"."""
        keys = list(self.tags) + list(self.by_label)
        hits = difflib.get_close_matches(name, keys, n=3, cutoff=0.5)
        # substring matches catch "研发费用" -> "上年研发费用" and "revenue_2024" -> "revenue"
        hits += sorted((k for k in keys if name in k or k in name), key=len)
        found: list[str] = []
        for h in hits:
            t = self.resolve(h)
            assert t is not None
            text = f"{t.key}（{t.label}）"
            if text not in found:
                found.append(text)
        return "、".join(found[:3]) if found else None

    def source_label(self, key: str) -> str:
        src = self.sources.get(self[key].source)
        return src.label if src else self[key].source


def load_dictionary(path: Path | str = DEFAULT_DICTIONARY) -> TagDictionary:
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise EngineError(f"{path}：无法读取标签字典：{exc}") from exc
    sources = {
        k: Source(k, v["label"], v.get("frequency", ""))
        for k, v in (raw.get("sources") or {}).items()
    }
    tags: list[TagDef] = []
    for i, t in enumerate(raw.get("tags") or []):
        try:
            kind = Kind(t["type"])
            scale = 2 if kind is Kind.MONEY else int(t.get("scale", 0))
            ttype = TagType(
                kind=kind,
                scale=scale,
                unit=str(t.get("unit", "元" if kind is Kind.MONEY else "")),
                values=tuple(str(v) for v in t.get("values", ())),
                hierarchy=str(t.get("hierarchy", "")),
                signed=kind not in (Kind.NUMBER, Kind.MONEY) or bool(t.get("signed", False)),
            )
            if kind is Kind.CODE and ttype.hierarchy not in ("region", "industry"):
                raise ValueError("代码类标签须写明 hierarchy：region 或 industry")
            if kind is Kind.CATEGORY and not ttype.values:
                raise ValueError("类别标签须列出允许的取值")
            if t["source"] not in sources:
                raise ValueError(f"未知的数据来源 {t['source']!r}")
            tags.append(
                TagDef(
                    key=t["key"], label=t["label"], type=ttype, source=t["source"],
                    group=t.get("group", ""), description=t.get("description", ""),
                    personal=bool(t.get("personal", False)), derived=bool(t.get("derived", False)),
                    prefer=_prefer(t.get("prefer", "delivered")),
                    inputs=tuple(str(x) for x in t.get("inputs", ())),
                    period=PeriodKind(t.get("period", "instant")),
                )
            )
        except (KeyError, ValueError, TypeError) as exc:
            raise EngineError(f"{path}：第 {i + 1} 个标签（{t.get('key', '?')}）：{exc}") from exc
    keys = [t.key for t in tags]
    dupes = {k for k in keys if keys.count(k) > 1}
    if dupes:
        raise EngineError(f"{path}：标签键重复：{'、'.join(sorted(dupes))}")
    for t in tags:
        unknown = [x for x in t.inputs if x not in keys]
        if t.derived and (not t.inputs or unknown):
            raise EngineError(f"{path}：派生标签 {t.key} 须用 inputs: 列出已有的标签"
                              + (f"（未知：{'、'.join(unknown)}）" if unknown else ""))
    return TagDictionary(tags, sources)
