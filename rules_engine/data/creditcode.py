"""统一社会信用代码 (GB 32100-2015): 18 characters, the last one a check character.

Layout: 1 registering authority, 1 entity type, 6 region code, 9 organisation
code (GB 11714, with its own check character), 1 check character.
"""

from __future__ import annotations

CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # no I, O, Z, S, V
VALUE = {c: i for i, c in enumerate(CHARSET)}
WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
ORG_CHARSET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)


def check_char(first17: str) -> str:
    total = sum(VALUE[c] * w for c, w in zip(first17, WEIGHTS, strict=True))
    return CHARSET[(31 - total % 31) % 31]


def org_check_char(first8: str) -> str:
    total = sum(ORG_CHARSET.index(c) * w for c, w in zip(first8, ORG_WEIGHTS, strict=True))
    c = 11 - total % 11
    return "X" if c == 10 else "0" if c == 11 else str(c)


def problem(code: object) -> str | None:
    """Why a value is not a valid credit code, or None if it is."""
    if not isinstance(code, str):
        return f"应为 18 位统一社会信用代码，而不是 {code!r}"
    if len(code) != 18:
        return f"统一社会信用代码应为 18 位，实为 {len(code)} 位"
    bad = [c for c in code if c not in VALUE]
    if bad:
        return f"统一社会信用代码中不允许出现字符 {bad[0]!r}（不用 I、O、Z、S、V）"
    expected = check_char(code[:17])
    if code[17] != expected:
        return f"校验码错误：第 18 位为 {code[17]!r}，按 GB 32100-2015 应为 {expected!r}"
    return None


def is_valid(code: object) -> bool:
    return problem(code) is None


def make(region: str, serial: int, dept: str = "9", kind: str = "1") -> str:
    """A valid code for a region and a serial number (used by the generator)."""
    org8 = f"{serial:08d}"[-8:]
    org8 = "MA" + org8[2:] if serial % 3 == 0 else org8  # new-style 'MA' organisation codes
    org9 = org8 + org_check_char(org8)
    body = f"{dept}{kind}{region}{org9}"
    # the organisation check may be 'X' (allowed) but not I/O/Z/S/V; regenerate on clash
    if any(c not in VALUE for c in body):
        return make(region, serial + 1, dept, kind)
    return body + check_char(body)
