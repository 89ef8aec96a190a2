"""Write docs/openapi.json from the code (CI checks the two agree)."""

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rules_engine.api import create_app  # noqa: E402

doc = create_app(platform=lambda: None).openapi()  # type: ignore[arg-type, return-value]
(ROOT / "docs" / "openapi.json").write_text(json.dumps(doc, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
print(f"docs/openapi.json: {len(doc['paths'])} paths")
