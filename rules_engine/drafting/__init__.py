"""政策拆解: draft policy rules from the text of a published policy (docs/DRAFTING.md)."""
