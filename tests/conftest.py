"""Shared fixtures: a fresh ledger on SQLite and on a real PostgreSQL server."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa


def _database_of_this_worker(url: str | None) -> str | None:
    """Under pytest-xdist each worker gets a database of its own on the one server (tests drop
    and recreate the public schema, so two workers must never share one). The URL is also put
    back into the environment, for the processes the tests start."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not url or not worker:
        return url
    base = sa.engine.make_url(url)
    name = f"{base.database}_{worker}"
    if not re.fullmatch(r"[a-z0-9_]+", name):
        raise RuntimeError(f"unexpected test database name {name!r}")
    engine = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        if conn.scalar(sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}) is None:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))  # checked above; DDL takes no parameters
    engine.dispose()
    mine = base.set(database=name).render_as_string(hide_password=False)
    os.environ["MIANSHEN_TEST_PG_URL"] = mine
    return mine


PG_URL = _database_of_this_worker(os.environ.get("MIANSHEN_TEST_PG_URL"))
# a ledger the tests create is a test ledger (module fixtures too): it accepts MIANSHEN_CLOCK, which
# a production ledger refuses (tests/test_attacks.py creates production ones explicitly)
os.environ["MIANSHEN_LEDGER_MODE"] = "test"


def _session_audit_key() -> None:
    """A signing key for what runs before a test's own (module fixtures: the browser's and the
    API's servers, the worker's reference run) or after a test undoes its environment: nothing
    creates a key implicitly any more, and a fresh clone has none under out/keys."""
    import tempfile

    where = Path(tempfile.mkdtemp(prefix="mianshen-anchor-"))
    os.environ["MIANSHEN_AUDIT_KEY"] = str(where / "audit-ed25519.pem")
    # no session-wide checkpoint file: without MIANSHEN_AUDIT_CHECKPOINTS each ledger anchors to
    # its own file (named by its URL), and two ledgers must never share one
    from rules_engine.ledger import anchor

    anchor.init_key()


_session_audit_key()
BACKENDS = ["sqlite", "postgresql"]


def fresh_url(backend: str, tmp_path: Path) -> str:
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'ledger.db'}"
    if not PG_URL:
        pytest.skip("PostgreSQL: set MIANSHEN_TEST_PG_URL (scripts/test.sh and CI start a server and set it)")
    engine = sa.create_engine(PG_URL)
    with engine.begin() as conn:
        conn.execute(sa.text("DROP SCHEMA public CASCADE"))
        conn.execute(sa.text("CREATE SCHEMA public"))
    engine.dispose()
    return PG_URL


@pytest.fixture(params=BACKENDS)
def ledger_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    yield fresh_url(request.param, tmp_path)


@pytest.fixture(autouse=True)
def audit_anchor(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test signs its audit checkpoints with its own key, into its own file."""
    where = tmp_path / "anchor"
    monkeypatch.setenv("MIANSHEN_AUDIT_KEY", str(where / "audit-ed25519.pem"))
    monkeypatch.setenv("MIANSHEN_AUDIT_CHECKPOINTS", str(where / "checkpoints.jsonl"))
    from rules_engine.ledger import anchor

    anchor.init_key()  # as `mianshen audit init-key` does: nothing creates a key implicitly
    return where


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    """One local Spark session for the whole run (starting one costs about 10 s)."""
    from rules_engine.backends import spark as spark_backend

    yield spark_backend.local_session(2, "mianshen-tests")
