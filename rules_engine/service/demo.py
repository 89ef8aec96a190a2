"""The demo's ledger: a newcomer opens the web UI on payouts whose 公示 has already ended, so
approval, the payment file and the bank's answer can be walked at once, without restarting
under a changed clock.

The ledger is created as an 演示 ledger (ledger/mode.py): only such a ledger accepts a
simulated clock, and every entry written under it says so in the audit log. The batch and
the 公示 are dated far enough back that the notice period ended before today; from then on the
demo runs on the server's real date like production. Nothing here touches an existing ledger,
and a production ledger still refuses any simulated clock.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from .. import ir
from ..data.datasets import Dataset
from ..data.tags import TagDictionary
from ..errors import Invalid
from ..ledger import anchor
from ..ledger import db as ledger_db
from ..ledger.lifecycle import notice_period
from ..ledger.mode import CLOCK_ENV, CREATE_ENV
from .actors import Actor
from .ledger import publish_candidates, run_batch


@dataclass(frozen=True)
class DemoLedger:
    url: str
    dated: dt.date  # the simulated day of the batch and of the 公示's start
    batch_id: int
    created: int
    created_fen: int
    invited: int
    published: int
    notice_end: dt.date


def notice_start_before(today: dt.date) -> dt.date:
    """The latest day whose 5-working-day notice ends before `today` (approval opens today)."""
    day = today - dt.timedelta(days=1)
    while notice_period(day)[1] >= today:
        day -= dt.timedelta(days=1)
    return day


@contextmanager
def _simulated(day: dt.date) -> Iterator[None]:
    # The clock and the ledger's mode are read from the environment by design (no caller passes
    # the date a notice is judged by); set for this call only and put back.
    saved = {k: os.environ.get(k) for k in (CREATE_ENV, CLOCK_ENV)}
    os.environ[CREATE_ENV] = "demo"
    os.environ[CLOCK_ENV] = day.isoformat()
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def prepare_ledger(url: str, actor: Actor, data: Dataset, policies: list[ir.Policy], as_of: dt.date,
                   dictionary: TagDictionary, today: dt.date | None = None) -> DemoLedger:
    """Create a new 演示 ledger at `url`: one batch over `data` and every candidate on 公示, both
    dated so that the notice ended before `today` (the real date by default). Refuses a ledger
    that already exists: a demo never writes into someone's records."""
    if ledger_db.exists(url):
        raise Invalid(f"台账 {ledger_db.make_url_safe(url)} 已存在：演示账本只新建，不写入已有台账")
    anchor.signing_key()  # refused before anything is created: a half-made demo ledger helps no one
    today = today or dt.date.today()
    day = notice_start_before(today)
    with _simulated(day):
        engine, sf = ledger_db.open_ledger(url)
        try:
            r = run_batch(sf, actor, data, policies, as_of, dictionary)
            n, _first, last = publish_candidates(sf, actor)
        finally:
            engine.dispose()
    return DemoLedger(url, day, r.batch_id, r.created, r.created_fen, r.invited, n, last)
