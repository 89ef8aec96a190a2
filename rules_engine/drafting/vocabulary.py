"""What a phrase in a policy text names: a tag (through its label in the dictionary or the
synonym list beside it, enterprises/synonyms.yaml), a whole condition (小微企业), a level of a
category (国家级绿色工厂), an industry (by its name in industries.csv) or a region (regions.csv)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from ..data.codes import industries, regions
from ..data.tags import DEFAULT_DICTIONARY, TagDictionary
from ..ir import Kind

DEFAULT_SYNONYMS = DEFAULT_DICTIONARY.parent / "synonyms.yaml"
LEVEL_WORDS = ("国家级", "省级", "市级")


@dataclass(frozen=True)
class Meaning:
    kind: str  # tag | phrase | level | industry
    key: str  # the tag key, or the condition text of a phrase / industry
    level_tag: str = ""


@dataclass(frozen=True)
class Mention:
    phrase: str
    meaning: Meaning
    start: int  # in the view
    end: int


class Vocabulary:
    def __init__(self, dictionary: TagDictionary, synonyms: Path | str = DEFAULT_SYNONYMS) -> None:
        self.dictionary = dictionary
        raw = yaml.safe_load(Path(synonyms).read_text(encoding="utf-8")) or {}
        table: dict[str, Meaning] = {}
        for key, tdef in dictionary.tags.items():
            if tdef.kind in (Kind.TEXT, Kind.CODE) or tdef.personal:
                continue
            table.setdefault(_clean(tdef.label), Meaning("tag", key))
        # one phrase may name a yearly and a quarterly tag (纳税额): the period written picks one
        self.alternates: dict[str, list[str]] = {}
        for key, phrases in (raw.get("tags") or {}).items():
            if dictionary.resolve(key) is None:
                raise ValueError(f"synonyms.yaml: 标签 {key} 不在标签库中")
            for p in phrases:
                c = _clean(str(p))
                if c in table and table[c].kind == "tag" and table[c].key != key:
                    self.alternates.setdefault(c, [table[c].key]).append(key)
                    continue
                table[c] = Meaning("tag", key)
        self.dates: dict[str, str] = {k: str(v) for k, v in (raw.get("dates") or {}).items()}
        for tag, phrases in (raw.get("levels") or {}).items():
            for p in phrases:
                table[_clean(str(p))] = Meaning("level", tag, level_tag=tag)
        for item in raw.get("phrases") or []:
            for p in item["say"]:
                table[_clean(str(p))] = Meaning("phrase", str(item["when"]))
        for code, name in industries().items():  # 门类 and 大类 by name: 制造业, 软件和信息技术服务业
            if len(code) <= 3 and len(name) >= 3:
                table.setdefault(name, Meaning("industry", f"industry under {code}"))
        self.regions: dict[str, str] = {name: code for code, name in regions().items()}
        self.table = table
        ordered = sorted(table, key=len, reverse=True)
        self._re = re.compile("|".join(re.escape(p) for p in ordered))
        self._region_re = re.compile("|".join(re.escape(n) for n in sorted(self.regions, key=len, reverse=True)))

    def mentions(self, text: str) -> list[Mention]:
        """Non-overlapping mentions, longest phrase first at each position."""
        return [Mention(m.group(), self.table[m.group()], m.start(), m.end()) for m in self._re.finditer(text)]

    def region_mentions(self, text: str) -> list[tuple[str, str, int, int]]:
        return [(m.group(), self.regions[m.group()], m.start(), m.end()) for m in self._region_re.finditer(text)]


def _clean(label: str) -> str:
    return re.sub(r"[\s“”\"'‘’「」]", "", label)
