"""The tag dictionary (标签库): what each enterprise tag is, its type, unit and source."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path

import yaml

from .errors import EngineError
from .ir import Kind, TagType

DEFAULT_DICTIONARY = Path(__file__).resolve().parent.parent / "enterprises" / "tags.yaml"


@dataclass(frozen=True, slots=True)
class Source:
    key: str
    label: str  # department, e.g. 市场监督管理局
    frequency: str  # how often it refreshes its data


def _prefer(value: object) -> str:
    if value not in ("delivered", "derived"):
        raise ValueError(f"prefer is delivered or derived, not {value!r}")
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

    def __contains__(self, key: object) -> bool:
        return key in self.tags

    def __getitem__(self, key: str) -> TagDef:
        return self.tags[key]

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self.tags.values())

    def __len__(self) -> int:
        return len(self.tags)

    def resolve(self, name: str) -> TagDef | None:
        """A tag by key or by its Chinese label."""
        return self.tags.get(name) or self.by_label.get(name)

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
        src = self.sources.get(self.tags[key].source)
        return src.label if src else self.tags[key].source


def load_dictionary(path: Path | str = DEFAULT_DICTIONARY) -> TagDictionary:
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise EngineError(f"{path}: cannot read the tag dictionary: {exc}") from exc
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
            )
            if kind is Kind.CODE and ttype.hierarchy not in ("region", "industry"):
                raise ValueError("a code tag needs hierarchy: region or industry")
            if kind is Kind.CATEGORY and not ttype.values:
                raise ValueError("a category tag needs its allowed values")
            if t["source"] not in sources:
                raise ValueError(f"unknown source {t['source']!r}")
            tags.append(
                TagDef(
                    key=t["key"], label=t["label"], type=ttype, source=t["source"],
                    group=t.get("group", ""), description=t.get("description", ""),
                    personal=bool(t.get("personal", False)), derived=bool(t.get("derived", False)),
                    prefer=_prefer(t.get("prefer", "delivered")),
                    inputs=tuple(str(x) for x in t.get("inputs", ())),
                )
            )
        except (KeyError, ValueError, TypeError) as exc:
            raise EngineError(f"{path}: tag #{i + 1} ({t.get('key', '?')}): {exc}") from exc
    keys = [t.key for t in tags]
    dupes = {k for k in keys if keys.count(k) > 1}
    if dupes:
        raise EngineError(f"{path}: duplicate tag keys: {sorted(dupes)}")
    for t in tags:
        unknown = [x for x in t.inputs if x not in keys]
        if t.derived and (not t.inputs or unknown):
            raise EngineError(f"{path}: derived tag {t.key} needs `inputs:` naming existing tags"
                              + (f" (unknown: {unknown})" if unknown else ""))
    return TagDictionary(tags, sources)
