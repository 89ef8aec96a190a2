"""CLI for the ledger: `mianshen batch|payouts|payment|outbox|audit ...`."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from .. import service
from ..service.actors import Actor
from ..values import fmt_yuan
from . import lifecycle
from .db import default_url, open_ledger
from .models import BatchRun, OutboxMessage, Payout

console = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

DbOpt = Annotated[str | None, typer.Option("--db", help="Ledger database URL (default: $MIANSHEN_DB or sqlite:///out/ledger.db).")]
ActorOpt = Annotated[str, typer.Option("--actor", help="Who does this (recorded in the audit log).")]
ReasonOpt = Annotated[str, typer.Option("--reason", help="Why (recorded with the transition).")]

batch_app = typer.Typer(help="Batch runs: match everyone and write payout candidates, exactly once.", no_args_is_help=True)
payouts_app = typer.Typer(help="Payouts: list, publish (公示), approve, withdraw, retry, revoke.", no_args_is_help=True)
payment_app = typer.Typer(help="Payment files for the finance system, and the bank's results.", no_args_is_help=True)
outbox_app = typer.Typer(help="Deliver queued notifications.", no_args_is_help=True)
audit_app = typer.Typer(help="The hash-chained audit log.", no_args_is_help=True)


def _sf(db: str | None) -> sessionmaker[Session]:
    return open_ledger(db or default_url())[1]


GROUPINGS = {"policy": Payout.policy_id, "region": Payout.region, "status": Payout.status}


def summary_table(s: Session, title: str, by: tuple[str, ...] = ("policy", "status"), **filters: object) -> Table:
    """Counts and totals grouped by any of policy, region, status."""
    cols = [GROUPINGS[b] for b in by]
    q = select(*cols, func.count(), func.sum(Payout.amount_fen)).group_by(*cols).order_by(*cols)
    for k, v in filters.items():
        if v is not None:
            q = q.where(getattr(Payout, k) == v)
    t = Table(title=title)
    for c in (*by, "count", "amount (yuan)"):
        t.add_column(c, justify="right" if c in ("count", "amount (yuan)") else "left")
    total_n, total_fen = 0, 0
    for *keys, n, fen in s.execute(q):
        t.add_row(*(str(k) if k is not None else "（无）" for k in keys), str(n), fmt_yuan(int(fen or 0)))
        total_n += n
        total_fen += int(fen or 0)
    t.add_row("[bold]total[/]", *[""] * (len(by) - 1), str(total_n), fmt_yuan(total_fen))
    return t


# ------------------------------------------------------------------ batch


@batch_app.command("run")
def batch_run(
    actor: ActorOpt,
    db: DbOpt = None,
    data: Annotated[str | None, typer.Option(
        "--data", "-d", help="Dataset manifest, storage Parquet, or a database URL (enterprise table: --table).")] = None,
    policies: Annotated[Path | None, typer.Option("--policies", "-p", help="Policy directory.")] = None,
    as_of: Annotated[str | None, typer.Option("--as-of", help="Evaluation date (default: the dataset's).")] = None,
    backend: Annotated[str | None, typer.Option(
        "--backend", help="vectorized, sql or spark (default: sql for a database URL, else vectorized).")] = None,
    table: Annotated[str, typer.Option("--table", help="Enterprise table (sql backend).")] = "enterprises",
    partitions: Annotated[int | None, typer.Option("--partitions", help="Spark: local[N].")] = None,
) -> None:
    """Match every enterprise against every policy in force; write candidates; print totals.

    The match runs where the data is: in this process, inside the database (sql) or on Spark;
    only the candidates' rows come back to write the ledger."""
    from ..cli_common import DEFAULT_POLICIES, _as_of, _dataset, _library, domain_errors, open_source
    from ..datasets import SAMPLE_MANIFEST
    from ..sources import FrameSource, MatchSource, backend_of
    from ..tags import load_dictionary
    from .batch import file_digest

    where = data or str(SAMPLE_MANIFEST)
    with domain_errors():
        d = load_dictionary()
        lib = _library(policies or DEFAULT_POLICIES, d, strict=True)
        kind = backend_of(where, backend)
        if kind == "vectorized":
            path = Path(where)
            ds = _dataset(path, d)
            paths = [f.path for f in ds.files if f.path is not None] or (
                sorted(path.glob("*.parquet")) if path.is_dir() else [path])
            source: MatchSource = FrameSource(ds.frame, file_digest(paths))
            when = _as_of(as_of, path)
        else:
            source = open_source(kind, where, table, partitions, d)
            when = _as_of(as_of, Path(where) if kind == "spark" else Path("-"))
        sf = _sf(db)
        with console.status(f"matching ({kind}) and allocating..."):
            r = service.run_batch(sf, Actor(actor, "official"), source, lib.policies, when, d)
        with sf() as s:
            console.print(summary_table(s, f"batch {r.batch_id}: candidates by policy", batch_id=r.batch_id))
    console.print(f"batch {r.batch_id}: {r.created} new candidates, {fmt_yuan(r.created_fen)} yuan; "
                  f"not created: " + (", ".join(f"{k} {v}" for k, v in r.skipped.items()) or "none"), highlight=False)


@batch_app.command("list")
def batch_list(db: DbOpt = None) -> None:
    """Past batch runs with their inputs and results."""
    with _sf(db)() as s:
        t = Table(title="batch runs")
        for c in ("id", "started", "by", "as_of", "status", "created", "amount (yuan)", "data hash"):
            t.add_column(c)
        for b in s.scalars(select(BatchRun).order_by(BatchRun.id)):
            sm = b.summary or {}
            t.add_row(str(b.id), f"{b.started_at:%Y-%m-%d %H:%M}", b.started_by, str(b.as_of), b.status,
                      str(sm.get("created", "")), fmt_yuan(int(sm.get("created_fen", 0))), b.data_hash[:12])
        console.print(t)


@batch_app.command("unlock")
def batch_unlock(actor: ActorOpt, reason: ReasonOpt, db: DbOpt = None) -> None:
    """Clear the batch lock left by a run on another host that died (recorded in the audit log)."""
    from .batch import force_unlock

    force_unlock(_sf(db), actor, reason)
    console.print("batch lock cleared")


# ------------------------------------------------------------------ payouts


@payouts_app.command("list")
def payouts_list(
    db: DbOpt = None,
    status: Annotated[str | None, typer.Option(help="Only this status.")] = None,
    policy: Annotated[str | None, typer.Option(help="Only this policy id.")] = None,
    region: Annotated[str | None, typer.Option(help="Only this region code.")] = None,
    rows: Annotated[bool, typer.Option("--rows", help="List every payout, not only totals.")] = False,
    by: Annotated[str, typer.Option(help="Group totals by: comma-separated policy, region, status.")] = "policy,status",
) -> None:
    """Counts and totals grouped by policy, region and/or status (filtered), optionally each payout."""
    groups = tuple(b.strip() for b in by.split(",") if b.strip())
    if not groups or any(g not in GROUPINGS for g in groups):
        err.print(f"error: --by takes policy, region and/or status, not {by!r}")
        raise typer.Exit(2)
    with _sf(db)() as s:
        console.print(summary_table(s, "payouts", by=groups, status=status, policy_id=policy, region=region))
        if rows:
            q = select(Payout).order_by(Payout.id)
            for k, v in (("status", status), ("policy_id", policy), ("region", region)):
                if v is not None:
                    q = q.where(getattr(Payout, k) == v)
            for p in s.scalars(q):
                console.print(f"{p.reference} {p.policy_id} {p.credit_code} {p.period} {fmt_yuan(p.amount_fen)} "
                              f"{p.status}", highlight=False)


def _actor(name: str, role: str = "official") -> Actor:
    from ..cli_common import domain_errors

    with domain_errors():
        return Actor(name, role)


@payouts_app.command("publish")
def payouts_publish(
    actor: ActorOpt, db: DbOpt = None,
    start: Annotated[str | None, typer.Option(help="First day of the notice: today (default) or later.")] = None,
    policy: Annotated[str | None, typer.Option(help="Only this policy id.")] = None,
) -> None:
    """Put every candidate on the 公示 list for 5 working days."""
    from ..cli_common import domain_errors

    with domain_errors():
        day = _date(start) if start else None
        n, first, last = service.publish_candidates(_sf(db), _actor(actor), policy, day)
    console.print(f"{n} 笔列入公示，公示期 {first} 至 {last}", highlight=False)


@payouts_app.command("approve")
def payouts_approve(
    actor: ActorOpt, db: DbOpt = None,
    policy: Annotated[str | None, typer.Option(help="Only this policy id.")] = None,
) -> None:
    """Approve every publicized payout whose notice period ended before today (the server's
    date: no option can move it) and queue the notifications."""
    from ..cli_common import domain_errors

    with domain_errors():
        n = service.approve_due(_sf(db), _actor(actor), policy)
    console.print(f"{n} 笔审批通过，已排队通知企业", highlight=False)


def _date(text: str) -> dt.date:
    from ..errors import Invalid

    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise Invalid(f"日期应为 YYYY-MM-DD，而不是 {text!r}") from None


def _one(ref: str, act: Callable[[], object]) -> None:
    from ..cli_common import domain_errors

    with domain_errors():
        p = act()
    assert isinstance(p, Payout)
    console.print(f"{p.reference}：{lifecycle.STATUS_ZH.get(p.status, p.status)}", highlight=False)


@payouts_app.command("withdraw")
def payouts_withdraw(ref: str, actor: ActorOpt, reason: ReasonOpt, db: DbOpt = None) -> None:
    """Withdraw a candidate or publicized payout (an objection upheld, or no longer eligible)."""
    _one(ref, lambda: service.withdraw(_sf(db), _actor(actor), ref, reason))


@payouts_app.command("retry")
def payouts_retry(ref: str, actor: ActorOpt, reason: ReasonOpt = "重新发起支付", db: DbOpt = None) -> None:
    """Return a failed payment to approved, to go into the next payment file."""
    _one(ref, lambda: service.retry(_sf(db), _actor(actor), ref, reason))


@payouts_app.command("revoke")
def payouts_revoke(
    ref: str, actor: ActorOpt, reason: ReasonOpt, db: DbOpt = None,
    amount: Annotated[str | None, typer.Option(help="Clawback in yuan (default: the whole amount).")] = None,
) -> None:
    """Revoke a paid payout and record the clawback."""
    from ..values import parse_money_fen

    _one(ref, lambda: service.revoke(_sf(db), _actor(actor), ref, reason, parse_money_fen(amount) if amount else None))


@payouts_app.command("notice")
def payouts_notice(out: Path, actor: ActorOpt, db: DbOpt = None) -> None:
    """Export the 公示 list (.xlsx or .csv), personal data masked."""
    from ..cli_common import domain_errors
    from ..exporting import fmt_of, write_atomic

    with domain_errors():
        data, n = service.export_notice(_sf(db), _actor(actor), fmt_of(out))
        write_atomic(out, data)
    console.print(f"公示名单 {n} 笔，已写入 {out}", highlight=False)


# ------------------------------------------------------------------ payment


@payment_app.command("export")
def payment_export(out: Path, actor: ActorOpt, db: DbOpt = None) -> None:
    """Record a payment file (.csv or .xlsx) of the approved payouts not yet sent, then write it.
    The ledger commits first: a file on disk is always one it knows (`payment download` gets
    a file again if this process dies before writing it)."""
    from ..cli_common import domain_errors
    from ..exporting import fmt_of, write_atomic

    with domain_errors():
        issued = service.export_payment_file(_sf(db), _actor(actor), fmt_of(out))
        write_atomic(out, issued.file.content)
        if out.suffix.lower() == ".csv":
            write_atomic(out.with_suffix(".control.csv"), issued.control)
    f = issued.file
    console.print(f"{out}：支付文件 {f.reference}，{f.count} 笔，合计 {fmt_yuan(f.total_fen)} 元，SHA-256 {f.sha256}",
                  highlight=False)
    if issued.missing_account:
        err.print(f"{len(issued.missing_account)} 笔已审批的兑现记录没有备案银行账号，未列入：" +
                  "、".join(issued.missing_account[:10]), highlight=False)


@payment_app.command("download")
def payment_download(ref: str, out: Path, actor: ActorOpt, db: DbOpt = None) -> None:
    """Write an issued payment file again, byte for byte (checked against its recorded hash)."""
    from ..cli_common import domain_errors
    from ..exporting import write_atomic

    with domain_errors():
        f = service.payment_file(_sf(db), _actor(actor), ref)
        write_atomic(out, f.content)
    console.print(f"{out}：支付文件 {f.reference}，SHA-256 {f.sha256}", highlight=False)


@payment_app.command("import")
def payment_import(path: Path, actor: ActorOpt, db: DbOpt = None) -> None:
    """Apply the bank's result file. Each line must answer an open line of the payment file it
    names (file id and SHA-256, reference, amount, account); other lines are refused."""
    from ..cli_common import domain_errors
    from ..errors import DataError

    with domain_errors():
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise DataError(f"{path}：无法读取银行回单（{exc.strerror}）") from None
        r = service.import_bank_results(_sf(db), _actor(actor), data)
    console.print(f"支付成功 {r.paid} 笔，支付失败 {r.failed} 笔，此前已入账 {r.unchanged} 笔，拒收 {len(r.problems)} 行",
                  highlight=False)
    for p in r.problems:
        err.print(p, markup=False, highlight=False)
    if r.problems:
        raise typer.Exit(1)


# ------------------------------------------------------------------ outbox and audit


@outbox_app.command("dispatch")
def outbox_dispatch(
    sender: Annotated[str, typer.Option(help="file:PATH or webhook:URL")],
    db: DbOpt = None,
) -> None:
    """Send every due notification once (retries back off: 30 s, 1 min, 2 min, ...)."""
    from ..cli_common import domain_errors
    from .outbox import dispatch, sender_from

    with domain_errors():
        sf = _sf(db)
        r = dispatch(sf, sender_from(sender))
    with sf() as s:
        pending = s.scalar(select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status == "pending"))
    console.print(f"已发送 {r.sent}，待重试 {r.retried}，放弃 {r.dead}；待发送 {pending}", highlight=False)


@audit_app.command("verify")
def audit_verify(actor: Annotated[str, typer.Option("--actor", help="Who verifies.")] = "审计核验",
                 db: DbOpt = None) -> None:
    """Check the audit chain, the signed checkpoints outside the database, and the ledger
    against the log; name every problem found."""
    from ..cli_common import domain_errors

    with domain_errors():
        r = service.verify_audit(_sf(db), Actor(actor, "auditor"))
    for p in r.problems:
        err.print(p, markup=False, highlight=False)
    seq, head = r.head
    console.print(f"审计日志 {r.entries} 条，链头 {seq}:{head[:16]}…，签名锚点 {r.checkpoints} 个，"
                  f"发现问题 {len(r.problems)} 处", highlight=False)
    if r.problems:
        raise typer.Exit(1)


worker_app = typer.Typer(help="The event worker: react to tag updates on durable-rules.", no_args_is_help=True)
events_app = typer.Typer(help="Inbound tag events: add to the table the worker polls; list dead letters.",
                         no_args_is_help=True)


@worker_app.command("run")
def worker_run(
    source: Annotated[str, typer.Option(help="file:PATH (JSON lines or CSV), stdin, or table (tag_events).")] = "table",
    db: DbOpt = None,
    data: Annotated[Path | None, typer.Option("--data", "-d", help="Base enterprise data (manifest or Parquet).")] = None,
    policies: Annotated[Path | None, typer.Option("--policies", "-p", help="Policy directory.")] = None,
    as_of: Annotated[str | None, typer.Option("--as-of", help="Evaluate as of this date (default: each day's date).")] = None,
    follow: Annotated[bool, typer.Option("--follow", help="Keep polling for new events until SIGTERM.")] = False,
    chunk: Annotated[int, typer.Option(help="Events per transaction.")] = 100,
    poll: Annotated[float, typer.Option(help="Seconds between polls with --follow.")] = 1.0,
) -> None:
    """Apply tag events as they come: new candidates, withdrawals, notifications. Stops cleanly on SIGTERM
    after committing the events in hand; a restart resumes after the last committed event."""
    import signal

    from ..cli_common import DEFAULT_POLICIES, _dataset, _library, domain_errors
    from ..datasets import SAMPLE_MANIFEST
    from ..tags import load_dictionary
    from .worker import Worker, source_from

    stopping = {"flag": False}

    def on_term(signum: int, _frame: object) -> None:
        stopping["flag"] = True
        err.print(f"signal {signum}: finishing the events in hand, then stopping")

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    with domain_errors():
        d = load_dictionary()
        lib = _library(policies or DEFAULT_POLICIES, d, strict=True)
        ds = _dataset(data or SAMPLE_MANIFEST, d)
        sf = _sf(db)
        w = Worker(sf, d, lib.policies, ds.frame, dt.date.fromisoformat(as_of) if as_of else None)
        src = source_from(source, sf)
        console.print(f"worker: {len(w.policies)} policies, {len(ds.frame)} base enterprises, source {src.name}",
                      highlight=False)
        stats = w.run(src, stop=lambda: stopping["flag"], follow=follow, chunk=chunk, poll_s=poll,
                      report=lambda st: err.print(st.line(), highlight=False))
    console.print("done: " + stats.line(), highlight=False)


@events_app.command("add")
def events_add(
    credit_code: str, tag: str, value: str,
    as_of: Annotated[str, typer.Option("--as-of", help="The value's as-of date.")],
    source: Annotated[str, typer.Option(help="Source department key, e.g. science.")],
    db: DbOpt = None,
) -> None:
    """Queue one tag update in the tag_events table (for `worker run --source table`)."""
    from .models import TagEvent

    with _sf(db).begin() as s:
        e = TagEvent(credit_code=credit_code, tag=tag, value=value, as_of=as_of, source=source,
                     received_at=dt.datetime.now())
        s.add(e)
        s.flush()
        console.print(f"event {e.id} queued")


@events_app.command("dead-letters")
def events_dead_letters(db: DbOpt = None) -> None:
    """Events the worker could not use, with the reason."""
    from .models import DeadLetter

    with _sf(db)() as s:
        rows = list(s.scalars(select(DeadLetter).order_by(DeadLetter.id)))
    for r in rows:
        console.print(f"{r.source}: {r.reason}  {r.raw[:120]}", highlight=False, markup=False)
    console.print(f"{len(rows)} dead letters")


def register(app: typer.Typer) -> None:
    app.add_typer(worker_app, name="worker")
    app.add_typer(events_app, name="events")
    app.add_typer(batch_app, name="batch")
    app.add_typer(payouts_app, name="payouts")
    app.add_typer(payment_app, name="payment")
    app.add_typer(outbox_app, name="outbox")
    app.add_typer(audit_app, name="audit")
