"""Golden pairs: each condition renders to the recorded Chinese, each bad one fails with the recorded error."""

from pathlib import Path

import pytest
import yaml

from rules_engine.data.tags import load_dictionary
from rules_engine.language.render_zh import Renderer
from tests.golden.regenerate import outcome

GOLDEN = yaml.safe_load((Path(__file__).parent / "golden" / "conditions.yaml").read_text(encoding="utf-8"))
D = load_dictionary()
R = Renderer(D)


@pytest.mark.parametrize("case", GOLDEN["render"], ids=lambda c: c["in"])
def test_renders(case: dict) -> None:
    assert outcome(case["in"], D, R) == ("zh", case["zh"])


@pytest.mark.parametrize("case", GOLDEN["errors"], ids=lambda c: c["in"])
def test_errors(case: dict) -> None:
    assert outcome(case["in"], D, R) == ("error", case["error"])
