"""The house's layers (docs/ARCHITECTURE.md): each part of rules_engine imports only parts below
it, so data flows one way, load → IR → backend → result → ledger → service → front ends. Read
from the source (every `import` and `from ... import` of every module), not from a list kept by
hand beside the code."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "rules_engine"

# rank of each part: a part may import parts of lower rank only (and itself)
RANK = {
    "periods": 0, "errors": 0, "ir": 1, "results": 2,  # the ground floor: calendar, errors, IR, results contract
    "data": 3,  # tag dictionary, department files, values, derivations, codes
    "language": 4,  # lexer, parser, binder, Chinese rendering
    "backends": 5,  # every evaluator and the Kleene compiler
    "library": 6,  # policy loader, lint, policy test cases
    "explain": 7, "sources": 7,  # one explanation; where the data lives
    "drafting": 7,  # policy documents into draft rules, checked by the library loader
    "grant": 8,  # a payout's explanation record
    "ledger": 9,  # payouts, batch, lifecycle, payments, audit, worker
    "service": 10,  # one function per user operation
    "cli": 11, "api": 11,  # front ends
    "__init__": 12, "__main__": 12,  # the package's public names, `python -m rules_engine`
}


def _module(path: Path, root: Path = ROOT) -> tuple[str, str]:
    """(dotted module, its package) of a source file."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        return ".".join(parts[:-1]), ".".join(parts[:-1])
    return ".".join(parts), ".".join(parts[:-1])


def _part(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def imports(path: Path, root: Path = ROOT) -> list[tuple[str, int]]:
    """Every rules_engine module a file imports, with the line."""
    module, package = _module(path, root)
    out = []
    for n in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(n, ast.ImportFrom):
            if n.level:
                base = package.split(".")[: len(package.split(".")) - n.level + 1]
                target = ".".join(base + ([n.module] if n.module else []))
            else:
                target = n.module or ""
            if target == "rules_engine":  # `from rules_engine import ir`: the modules named
                out += [(f"rules_engine.{a.name}", n.lineno) for a in n.names]
            elif target.startswith("rules_engine."):
                out.append((target, n.lineno))
        elif isinstance(n, ast.Import):
            out += [(a.name, n.lineno) for a in n.names if a.name.startswith("rules_engine.")]
    return out


def test_every_layer_imports_only_layers_below_it() -> None:
    wrong = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if "migrations" in path.parts:  # Alembic revisions import nothing of the package
            continue
        here = _part(_module(path)[0])
        assert here in RANK, f"{path.relative_to(ROOT)}: part {here!r} has no place in RANK (docs/ARCHITECTURE.md)"
        for target, line in imports(path):
            there = _part(target)
            if there != here and RANK[there] >= RANK[here]:
                wrong.append(f"{path.relative_to(ROOT)}:{line} ({here}) imports {target} ({there})")
    assert wrong == [], "\n".join(wrong)


def test_the_web_ui_and_migrations_stay_out_of_the_layers_below() -> None:
    """Nothing in the package imports the web UI; a migration revision imports nothing of the
    package (it must run against the code of any later version)."""
    for path in PACKAGE.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert "from ui" not in text and "import ui" not in text, path
        if "versions" in path.parts:
            assert not [t for t, _ in imports(path)], path


def test_the_check_sees_an_upward_import(tmp_path: Path) -> None:
    """The rule itself can fail: a backend that imported the ledger would be named."""
    fake = tmp_path / "rules_engine" / "backends" / "probe.py"
    fake.parent.mkdir(parents=True)
    fake.write_text("from ..ledger import batch\nfrom rules_engine import ir\n", encoding="utf-8")
    assert imports(fake, tmp_path) == [("rules_engine.ledger", 1), ("rules_engine.ir", 2)]
    assert RANK[_part("rules_engine.ledger")] >= RANK["backends"] > RANK[_part("rules_engine.ir")]
