"""What the ledger keeps so that any past decision can be replayed: the department files as they
stood (DataVersion, each file by its SHA-256), the exact policy texts a batch evaluated
(PolicyText), and per batch a digest of every decision it saw (eligible pair and formula amount)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import ir
from ..data.datasets import SourceFile
from ..errors import Invalid
from .models import DataVersion, PolicyText


def file_entries(files: Iterable[SourceFile]) -> list[dict[str, Any]] | None:
    """The manifest entries of department files with each file's SHA-256; None when a source is no
    file (a SQL query reads a table that may change: such data cannot be replayed)."""
    out: list[dict[str, Any]] = []
    for f in files:
        if f.path is None:
            return None
        out.append({"path": str(f.path), "name": f.name, "source": f.source, "as_of": f.as_of.isoformat(),
                    "encoding": f.encoding, "columns": f.columns(),
                    "sha256": hashlib.sha256(f.path.read_bytes()).hexdigest()})
    return out


def entries_digest(entries: list[dict[str, Any]]) -> str:
    return hashlib.sha256(json.dumps(entries, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def record_data_version(s: Session, entries: list[dict[str, Any]], origin: str, actor: str,
                        now: dt.datetime) -> DataVersion:
    as_of = max((dt.date.fromisoformat(e["as_of"]) for e in entries), default=now.date())
    dv = DataVersion(recorded_at=now, recorded_by=actor, origin=origin, as_of=as_of, files=entries,
                     digest=entries_digest(entries))
    s.add(dv)
    s.flush()
    return dv


def source_files(dv: DataVersion) -> list[SourceFile]:
    """The files of a data version, each checked against its recorded SHA-256: a file changed or
    gone since is refused by name, never read as if it were the same data."""
    out = []
    for e in dv.files:
        path = Path(e["path"])
        if not path.exists():
            raise Invalid(f"数据版本 {dv.id} 的文件 {e['name']} 已不存在（{path}）：无法重现当时的数据")
        if hashlib.sha256(path.read_bytes()).hexdigest() != e["sha256"]:
            raise Invalid(f"数据版本 {dv.id} 的文件 {e['name']} 已被改动（SHA-256 与登记时不同）：无法重现当时的数据")
        cols = e.get("columns") or {}
        out.append(SourceFile(e["name"], e["source"], dt.date.fromisoformat(e["as_of"]), path=path,
                              encoding=e.get("encoding", "utf-8"),
                              periods=tuple((c, str(v["period"])) for c, v in cols.items() if "period" in v),
                              tags=tuple((c, str(v["tag"])) for c, v in cols.items() if "tag" in v)))
    return out


def data_version_at(s: Session, day: dt.date) -> DataVersion | None:
    """The data as it stood at the end of `day`: the last version recorded on or before it."""
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time())
    return s.scalars(select(DataVersion).where(DataVersion.recorded_at < end)
                     .order_by(DataVersion.recorded_at.desc(), DataVersion.id.desc()).limit(1)).first()


def policy_text_digest(p: ir.Policy) -> tuple[str, str] | None:
    """(SHA-256, text) of a policy's file, or None for a policy with no file (built in code)."""
    path = Path(p.source) if p.source else None
    if path is None or not path.is_file():
        return None
    raw = path.read_bytes()
    return hashlib.sha256(raw).hexdigest(), raw.decode("utf-8")


def record_policy_texts(s: Session, policies: Iterable[ir.Policy], now: dt.datetime) -> None:
    for p in policies:
        found = policy_text_digest(p)
        if found is not None and s.get(PolicyText, found[0]) is None:
            s.add(PolicyText(sha256=found[0], policy_id=p.id, version=p.version, text=found[1], first_seen_at=now))
    s.flush()


def decision_lines(rows: Iterable[tuple[str, str, int, int]]) -> list[str]:
    """(credit code, policy id, version, formula fen) of every eligible pair, as sorted lines."""
    return sorted(f"{code}|{pid}|{version}|{fen}" for code, pid, version, fen in rows)


def decisions_digest(rows: Iterable[tuple[str, str, int, int]]) -> str:
    return hashlib.sha256("\n".join(decision_lines(rows)).encode()).hexdigest()
