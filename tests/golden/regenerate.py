"""Rewrite the expected side of tests/golden/conditions.yaml from the current code.

Read every changed line of the diff before committing: a golden file is only as
good as the review of its changes.
"""

from pathlib import Path

import yaml

from rules_engine.data.tags import load_dictionary
from rules_engine.errors import ExpressionError
from rules_engine.language.binder import bind_condition
from rules_engine.language.parser import parse_condition
from rules_engine.language.render_zh import Renderer

GOLDEN = Path(__file__).with_name("conditions.yaml")


def outcome(text: str, d, r) -> tuple[str, str]:
    try:
        return "zh", r.pred(bind_condition(parse_condition(text), d, text))
    except ExpressionError as exc:
        return "error", str(exc)


def main() -> None:
    d = load_dictionary()
    r = Renderer(d)
    data = yaml.safe_load(GOLDEN.read_text(encoding="utf-8"))
    out = {"render": [], "errors": []}
    for section in ("render", "errors"):
        for case in data[section]:
            key, value = outcome(case["in"], d, r)
            out[section].append({"in": case["in"], key: value})
    head = "".join(line + "\n" for line in GOLDEN.read_text(encoding="utf-8").splitlines() if line.startswith("#"))
    GOLDEN.write_text(head + yaml.safe_dump(out, allow_unicode=True, sort_keys=False, width=200), encoding="utf-8")


if __name__ == "__main__":
    main()
