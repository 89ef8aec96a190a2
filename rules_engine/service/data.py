"""Loading department data: stage uploaded files (checked, not yet used), then activate them on
top of the current data. Activation is persisted as a manifest (out/data/current.yaml) that
every front end reads on start, and audited with the files' hashes; earlier uploads stay in it."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
from pathlib import Path

import yaml
from sqlalchemy.orm import Session, sessionmaker

from ..data import legacy
from ..data.changes import ChangeSet, changes, write_changes
from ..data.datasets import Dataset, SourceFile, load_dataset, load_manifest
from ..data.exporting import write_atomic
from ..data.tags import TagDictionary
from ..errors import Forbidden, Invalid
from ..ledger import audit, history
from .actors import Actor
from .platform import ROOT

UPLOADS = ROOT / "out" / "uploads"
CURRENT = ROOT / "out" / "data" / "current.yaml"
ENCODINGS = ("utf-8", "gb18030")


def current_manifest(default: Path) -> Path:
    """The data every front end uses: the activated manifest if there is one, else `default`."""
    return CURRENT if CURRENT.exists() and "MIANSHEN_DATA" not in os.environ else default


def _entry(f: SourceFile) -> dict[str, object]:
    out: dict[str, object] = {"path": str(f.path), "source": f.source, "as_of": f.as_of.isoformat(),
                              "encoding": f.encoding}
    if cols := f.columns():  # each column's period (and tag) as the manifest said
        out["columns"] = cols
    return out


def _entries(manifest: Path) -> list[dict[str, object]]:
    return [_entry(f) for f in load_manifest(manifest) if f.path is not None]


def stage(actor: Actor, dictionary: TagDictionary, base: Path, files: list[tuple[str, bytes]], source: str,
          as_of: dt.date, encoding: str = "utf-8") -> tuple[Dataset, list[SourceFile]]:
    """Save uploaded files and load them over the current data; nothing is used until activated."""
    if actor.role != "official":
        raise Forbidden("只有政策管理人员可以导入数据")
    if encoding not in ENCODINGS:
        raise Invalid(f"文件编码应为 {'、'.join(ENCODINGS)} 之一")
    if source not in dictionary.sources:
        raise Invalid(f"未知的提供部门 {source!r}")
    folder = UPLOADS / dt.datetime.now().strftime("%Y%m%d-%H%M%S-%f")
    new = []
    for name, data in files:
        safe = os.path.basename(name.replace("\\", "/")) or "upload.csv"
        path = folder / safe
        write_atomic(path, data)
        new.append(SourceFile(safe, source, as_of, path=path, encoding=encoding))
    base_files = load_manifest(base) if base.suffix in (".yaml", ".yml") else []
    return load_dataset([*base_files, *new], dictionary), new


def source_mismatch(dictionary: TagDictionary, files: list[SourceFile]) -> list[str]:
    """Tags a file delivers that its declared department does not provide (tax data uploaded as
    人社局): a warning for the official, not a refusal."""
    from ..data.datasets import _columns, read_table
    from ..data.frame import KEY

    out = []
    for f in files:
        try:
            df, _ = read_table(f, dictionary)
            tags = {tag for tag, _ in _columns(f, df, dictionary).values() if tag != KEY}
        except Exception:  # noqa: BLE001, S112 - the load itself reports unreadable files
            continue
        wrong = sorted(t for t in tags if t in dictionary and dictionary[t].source != f.source
                       and dictionary[t].source in dictionary.sources and t != "name")
        if wrong and len(wrong) * 2 >= len(tags):
            owners = sorted({dictionary.sources[dictionary[t].source].label for t in wrong})
            out.append(f"{f.name} 声明为{dictionary.sources[f.source].label}的数据，但其中 "
                       f"{'、'.join(dictionary[t].label for t in wrong[:5])} 等通常由{'、'.join(owners)}提供：请核对提供部门")
    return out


def activate(sf: sessionmaker[Session], actor: Actor, base: Path, files: list[SourceFile], as_of: dt.date) -> Path:
    """Make staged files part of the current data: a new manifest (the current one plus these),
    persisted, audited."""
    if actor.role != "official":
        raise Forbidden("只有政策管理人员可以更换当前数据")
    entries = _entries(base) if base.suffix in (".yaml", ".yml") else []
    digests = {}
    for f in files:
        assert f.path is not None
        entries.append(_entry(f))
        digests[f.name] = hashlib.sha256(f.path.read_bytes()).hexdigest()
    manifest = {"as_of": as_of.isoformat(), "files": entries}
    kept = history.file_entries([*(load_manifest(base) if base.suffix in (".yaml", ".yml") else []), *files])
    with sf.begin() as s:
        # the data as it now stands, kept for replay (the files are never overwritten: uploads go
        # to a new folder each time)
        dv = history.record_data_version(s, kept, "activated", actor.name, dt.datetime.now()) if kept else None
        audit.append(s, actor.name, "data_activated", CURRENT.name, {"files": digests, "base": str(base),
                                                                   "data_version": dv.id if dv else None})
        write_atomic(CURRENT, yaml.safe_dump(manifest, allow_unicode=True, sort_keys=False).encode("utf-8"))
    return CURRENT


def upgrade_manifest(sf: sessionmaker[Session], actor: Actor, manifest: Path,
                     dictionary: TagDictionary) -> list[str]:
    """A data store of the snapshot era, made to state its periods: every department file of the
    manifest whose header names a yearly fact without its period (`tax_paid`, `上年营业收入`,
    `tax_paid_prev`) gets the manifest entry that says which year the column holds, by the rule
    those names had: the year before the file's as-of date (前年: two years before). The files are
    not touched; the manifest is rewritten (the old one kept beside it) and the change audited.
    Returns one line per column named, in Chinese; [] when nothing needed it."""
    from ..data.datasets import read_table

    if actor.role != "official":
        raise Forbidden("只有政策管理人员可以升级数据清单")
    raw = yaml.safe_load(manifest.read_text(encoding="utf-8")) or {}
    current = {t.key: t.key for t in dictionary} | {t.label: t.key for t in dictionary}
    changes: list[str] = []
    for item, f in zip([i for i in raw.get("files") or [] if "path" in i], load_manifest(manifest), strict=True):
        df, _ = read_table(f, dictionary)
        cols = dict(item.get("columns") or {})
        for header in map(str, df.columns):
            spec = legacy.column_spec(header, f.as_of, current)
            if spec is None or header in cols or "[" in header or "@" in header:
                continue
            cols[header] = spec
            named = dictionary[spec["tag"]] if "tag" in spec else None
            changes.append(f"{f.name}：列 {header} 为 {spec['period']} 年度"
                           + (f"的 {named.label}（{named.key}）" if named else ""))
        if cols:
            item["columns"] = cols
    if not changes:
        return []
    backup = manifest.with_name(f"{manifest.name}.{dt.datetime.now():%Y%m%d-%H%M%S}.bak")
    text = yaml.safe_dump(raw, allow_unicode=True, sort_keys=False).encode("utf-8")
    with sf.begin() as s:
        audit.append(s, actor.name, "data_upgraded", manifest.name, {"columns": len(changes), "backup": backup.name})
        write_atomic(backup, manifest.read_bytes())
        write_atomic(manifest, text)
    return changes


def changes_between(before: Dataset, after: Dataset, out: Path) -> ChangeSet:
    """The change set from one delivery to the next (data/changes.py), written to `out`."""
    cs = changes(before.frame, after.frame)
    write_changes(cs, out)
    return cs
