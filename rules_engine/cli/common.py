"""What the two command-line modules share (rules_engine.cli.main and rules_engine.cli.main.ledger):
the consoles, turning domain errors into messages and exit codes, and loading the library and
data named on the command line. Neither CLI module imports the other's commands."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import typer
import yaml
from rich.console import Console

from ..data.datasets import Dataset, load_dataset
from ..data.tags import TagDictionary
from ..errors import EngineError, PolicyLoadError
from ..library.loader import Library, load_library

if TYPE_CHECKING:  # sources imports the engines; the CLI loads them only when a command needs them
    from ..sources import SparkSource, SqlSource

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_POLICIES = ROOT / "policies"
console = Console()
err = Console(stderr=True)


@contextmanager
def domain_errors() -> Iterator[None]:
    try:
        yield
    except PolicyLoadError as exc:
        for p in exc.problems:
            err.print(str(p), markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None
    except EngineError as exc:
        err.print(f"错误：{exc}", markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None


def _library(policies: Path, d: TagDictionary, strict: bool = False) -> Library:
    lib = load_library(policies, d)
    if lib.problems:
        for p in lib.problems:
            err.print(str(p), markup=False, highlight=False, soft_wrap=True)
        if strict:
            raise typer.Exit(1)
        err.print(f"[yellow]{len(lib.problems)} 个问题；继续使用其余 {len(lib.policies)} 项政策[/]")
    return lib


def _dataset(data: Path, d: TagDictionary) -> Dataset:
    """A manifest of department files, storage-format Parquet, or one file in natural units."""
    from ..data.datasets import SourceFile, is_storage_parquet, load_storage_parquet

    if data.suffix in (".yaml", ".yml"):
        return load_dataset(data, d)
    if (data.is_dir() or data.suffix == ".parquet") and data.exists() and is_storage_parquet(data):
        return load_storage_parquet(data, d)
    return load_dataset([SourceFile(data.name, "derived", dt.date.today(), path=data)], d)


def _as_of(as_of: str | None, data: Path) -> dt.date:
    if as_of:
        try:
            return dt.date.fromisoformat(as_of)
        except ValueError:
            err.print(f"错误：--as-of 应为 YYYY-MM-DD，而不是 {as_of!r}")
            raise typer.Exit(2) from None
    if data.suffix in (".yaml", ".yml") and data.exists():
        raw = yaml.safe_load(data.read_text(encoding="utf-8")) or {}
        if raw.get("as_of"):
            return dt.date.fromisoformat(str(raw["as_of"]))
    return dt.date.today()



def open_source(kind: str, data: str, table: str, partitions: int | None, d: TagDictionary
                ) -> SqlSource | SparkSource:
    """The match source for a non-default backend (see sources.py)."""
    from ..sources import SparkSource, SqlSource

    if kind == "sql":
        return SqlSource(data, table, d)
    try:
        import pyspark  # noqa: F401
    except ImportError:
        raise EngineError("spark 后端需要 PySpark，请先安装：pip install -e '.[spark]'") from None
    return SparkSource(data, d, partitions)
