"""Local accounts: scrypt hashes, clear errors for a bad file, the CLI that makes hashes."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from rules_engine.accounts import AccountError, authenticate, check_password, hash_password, load_accounts
from rules_engine.cli import app


def test_hash_round_trip_and_salt() -> None:
    h1, h2 = hash_password("s3cret"), hash_password("s3cret")
    assert h1 != h2 and h1.startswith("scrypt$")
    assert check_password("s3cret", h1) and check_password("s3cret", h2)
    assert not check_password("s3cret ", h1) and not check_password("x", "not-a-hash")


def test_the_demo_accounts_sign_in_and_wrong_passwords_do_not() -> None:
    accounts = load_accounts()
    assert authenticate(accounts, "qiye01", "qiye01-demo").credit_code == "91340124MA7112976A"  # type: ignore[union-attr]
    assert authenticate(accounts, "qiye01", "guanyuan-demo") is None
    assert authenticate(accounts, "nobody", "x") is None


@pytest.mark.parametrize(("entry", "message"), [
    ("{username: a, role: admin, password: 'scrypt$1'}", "role must be one of"),
    ("{username: a, role: enterprise, password: 'scrypt$1'}", "needs its credit_code"),
    ("{username: a, role: official, password: plain}", "never plain text"),
])
def test_a_bad_accounts_file_is_named(tmp_path: Path, entry: str, message: str) -> None:
    f = tmp_path / "accounts.yaml"
    f.write_text(f"accounts:\n  - {entry}\n", encoding="utf-8")
    with pytest.raises(AccountError, match=message):
        load_accounts(f)


def test_cli_hash_makes_a_hash_that_checks(tmp_path: Path) -> None:
    r = CliRunner().invoke(app, ["accounts", "hash", "--password", "pw-1"])
    assert r.exit_code == 0
    assert check_password("pw-1", r.output.strip())
    f = tmp_path / "a.yaml"
    f.write_text(f"accounts:\n  - {{username: zs, role: auditor, password: '{r.output.strip()}'}}\n")
    listed = CliRunner().invoke(app, ["accounts", "check", str(f)])
    assert listed.exit_code == 0 and "zs\tauditor" in listed.output and "scrypt" not in listed.output
