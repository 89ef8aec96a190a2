"""What every front end works on: the tag dictionary, the policy library, the current
enterprise data and the ledger, loaded once per process from the same settings
(MIANSHEN_POLICIES, MIANSHEN_DATA, MIANSHEN_DB)."""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from sqlalchemy.orm import Session, sessionmaker

from ..data.datasets import SAMPLE_MANIFEST, Dataset, load_dataset
from ..data.tags import TagDictionary, load_dictionary
from ..ledger.db import default_url, open_ledger
from ..library.loader import Library, load_library

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class CurrentData:
    dataset: Dataset
    as_of: dt.date
    label: str


def load_data(path: Path, dictionary: TagDictionary) -> CurrentData:
    raw = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}) if path.suffix in (".yaml", ".yml") else {}
    as_of = dt.date.fromisoformat(str(raw["as_of"])) if raw.get("as_of") else dt.date.today()
    ds = load_dataset(path, dictionary)
    # what the enterprise reads as the source of its archive: never a file name like manifest.yaml
    label = str(raw.get("name") or "") or (f"部门共享数据（{len(ds.files)} 个部门文件）" if raw else f"数据文件 {path.name}")
    return CurrentData(ds, as_of, label)


@dataclass
class Platform:
    dictionary: TagDictionary
    library: Library
    data: CurrentData
    ledger: sessionmaker[Session]
    # 政策体检 results by credit code: deterministic for this data, library and date, so the
    # portal's repeated queries cost a dict lookup. A new Platform (new data or library) starts empty.
    checkups: dict[str, object] = field(default_factory=dict)

    @classmethod
    def from_env(cls) -> Platform:
        d = load_dictionary()
        lib = load_library(os.environ.get("MIANSHEN_POLICIES", ROOT / "policies"), d)
        data = load_data(Path(os.environ.get("MIANSHEN_DATA", SAMPLE_MANIFEST)), d)
        return cls(d, lib, data, open_ledger(os.environ.get("MIANSHEN_DB", default_url()))[1])
