"""CLI for the ledger: `mianshen batch|payouts|payment|outbox|audit ...`."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.orm import Session, sessionmaker

from .. import service
from ..data.values import fmt_yuan
from ..errors import os_reason
from ..ledger import lifecycle
from ..ledger.db import default_url, open_ledger
from ..ledger.mode import MODES
from ..ledger.models import Payout
from ..service.actors import Actor

console = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

DbOpt = Annotated[str | None, typer.Option("--db", help="台账数据库地址（默认：$MIANSHEN_DB 或 sqlite:///out/ledger.db）。")]
ActorOpt = Annotated[str, typer.Option("--actor", help="操作人（记入审计日志）。")]
ReasonOpt = Annotated[str, typer.Option("--reason", help="理由（随状态变更记录）。")]

batch_app = typer.Typer(help="批次：匹配全部企业，写入兑现候选，同一笔只生成一次。", no_args_is_help=True)
payouts_app = typer.Typer(help="兑现记录：查询、公示、审批、撤回、重新支付、追回。", no_args_is_help=True)
payment_app = typer.Typer(help="给财政支付系统的支付文件，以及银行回执。", no_args_is_help=True)
outbox_app = typer.Typer(help="发送排队中的通知。", no_args_is_help=True)
audit_app = typer.Typer(help="哈希链审计日志。", no_args_is_help=True)


def _sf(db: str | None, create: bool = False) -> sessionmaker[Session]:
    """The ledger a command reads or changes; only `batch run` creates one."""
    from .common import domain_errors

    with domain_errors():
        return open_ledger(db or default_url(), create=create)[1]


HEADS = {"policy": "政策", "region": "地区", "status": "状态"}


def summary_table(rows: list[tuple[object, ...]], title: str, by: tuple[str, ...]) -> Table:
    """Counts and totals (from service.summary) as a table."""
    t = Table(title=title)
    for c in (*(HEADS[b] for b in by), "笔数", "金额（元）"):
        t.add_column(c, justify="right" if c in ("笔数", "金额（元）") else "left")
    total_n, total_fen = 0, 0
    for *keys, n, fen in rows:
        label = [lifecycle.STATUS_ZH.get(str(k), str(k)) if b == "status" else ("（无）" if k is None else str(k))
                 for b, k in zip(by, keys)]
        t.add_row(*label, str(n), fmt_yuan(int(fen or 0)))  # type: ignore[call-overload]
        total_n += int(n)  # type: ignore[call-overload]
        total_fen += int(fen or 0)  # type: ignore[call-overload]
    t.add_row("[bold]合计[/]", *[""] * (len(by) - 1), str(total_n), fmt_yuan(total_fen))
    return t


# ------------------------------------------------------------------ batch


@batch_app.command("run")
def batch_run(
    actor: ActorOpt,
    db: DbOpt = None,
    data: Annotated[str | None, typer.Option(
        "--data", "-d", help="数据清单、存储格式 Parquet，或数据库地址（企业表用 --table 指定）。")] = None,
    policies: Annotated[Path | None, typer.Option("--policies", "-p", help="政策目录。")] = None,
    as_of: Annotated[str | None, typer.Option("--as-of", help="评估日期（默认：数据的日期）。")] = None,
    backend: Annotated[str | None, typer.Option(
        "--backend", help="vectorized、sql 或 spark（默认：数据库地址用 sql，否则 vectorized）。")] = None,
    table: Annotated[str, typer.Option("--table", help="企业数据表（sql 方式）。")] = "enterprises",
    partitions: Annotated[int | None, typer.Option("--partitions", help="Spark：local[N]。")] = None,
    changes: Annotated[Path | None, typer.Option(
        "--changes", help="增量运行：只匹配变更集（mianshen data-changes 生成）中的企业与读取变化标签的政策。")] = None,
) -> None:
    """将全部企业与全部有效政策匹配，写入兑现候选，显示合计。

匹配在数据所在处运行：本进程、数据库内（sql）或 Spark；只有候选所在的行取回写入台账。
--changes：只重新匹配一次数据交付改变的企业；台账结果与全量批次相同（变更集须以上一批次的数据为基准）。"""
    from ..data.changes import ChangeSet, read_changes
    from ..data.datasets import SAMPLE_MANIFEST, Dataset
    from ..data.tags import load_dictionary
    from ..errors import EngineError
    from ..service.ledger import batch_runs
    from ..sources import MatchSource, backend_of
    from .common import DEFAULT_POLICIES, _as_of, _dataset, _library, domain_errors, open_source

    where = data or str(SAMPLE_MANIFEST)
    with domain_errors():
        d = load_dictionary()
        lib = _library(policies or DEFAULT_POLICIES, d, strict=True)
        kind = backend_of(where, backend)
        sf = _sf(db, create=True)
        source: Dataset | MatchSource | ChangeSet
        if changes is not None:
            if data is not None or backend not in (None, "vectorized"):
                raise EngineError("--changes 与 --data、--backend 不能同用：变更集本身就是要匹配的数据")
            source, kind = read_changes(changes, d), "增量"
            last = batch_runs(sf, Actor(actor, "official"), 1)
            # the date of the batch it continues, unless given (a different one is refused, with why)
            when = _as_of(as_of, changes) if as_of or not last else last[0].as_of
        elif kind == "vectorized":
            path = Path(where)
            source = _dataset(path, d)
            when = _as_of(as_of, path)
        else:
            source = open_source(kind, where, table, partitions, d)
            when = _as_of(as_of, Path(where) if kind == "spark" else Path("-"))
        with console.status(f"正在匹配（{kind}）并分配预算…"):
            r = service.run_batch(sf, Actor(actor, "official"), source, lib.policies, when, d)
        rows: list[tuple[object, ...]] = [(pid, x["count"], x["fen"]) for pid, x in sorted(r.by_policy.items())]
        console.print(summary_table(rows, f"批次 {r.batch_id}：按政策的待公示记录", ("policy",)))
    console.print(f"批次 {r.batch_id}：新增待公示 {r.created} 笔，合计 {fmt_yuan(r.created_fen)} 元；"
                  f"即申即享邀约 {r.invited} 笔；未生成：" + ("，".join(f"{k} {v}" for k, v in r.skipped.items()) or "无"),
                  highlight=False)


@batch_app.command("list")
def batch_list(db: DbOpt = None) -> None:
    """历次批次及其输入与结果。"""
    from ..service.ledger import batch_kind, batch_runs

    t = Table(title="批次记录")
    for c in ("批次", "开始", "操作人", "评估日期", "方式", "状态", "新增", "金额（元）", "邀约", "数据哈希"):
        t.add_column(c)
    for b in sorted(batch_runs(_sf(db), Actor("命令行", "official"), 10_000), key=lambda b: b.id):
        sm = b.summary or {}
        t.add_row(str(b.id), f"{b.started_at:%Y-%m-%d %H:%M}", b.started_by, str(b.as_of), batch_kind(sm),
                  {"completed": "已完成", "running": "运行中"}.get(b.status, b.status), str(sm.get("created", "")),
                  fmt_yuan(int(sm.get("created_fen", 0))), str(sm.get("invited", 0)), b.data_hash[:12])
    console.print(t)


@batch_app.command("unlock")
def batch_unlock(actor: ActorOpt, reason: ReasonOpt, db: DbOpt = None) -> None:
    """清除另一台主机上已中断的批次留下的批次锁（记入审计日志）。"""
    from ..ledger.batch import force_unlock

    force_unlock(_sf(db), actor, reason)
    console.print("批次锁已清除")


@batch_app.command("demo")
def batch_demo(
    db: Annotated[str, typer.Option("--db", help="新建的演示台账地址。")] = "sqlite:///out/demo/ledger.db",
    actor: ActorOpt = "演示数据",
) -> None:
    """新建演示台账：示例企业跑一次批次、全部候选列入公示，日期倒推到公示期已在今天之前届满，
打开网页即可审批、导出支付文件、导入银行结果。只新建，不写入已有台账；生产台账仍不接受模拟时钟。"""
    from ..data.datasets import SAMPLE_MANIFEST
    from ..data.tags import load_dictionary
    from ..service.demo import prepare_ledger
    from .common import DEFAULT_POLICIES, _as_of, _dataset, _library, domain_errors

    with domain_errors():
        d = load_dictionary()
        lib = _library(DEFAULT_POLICIES, d, strict=True)
        if db.startswith("sqlite:///"):
            Path(db.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        with console.status("正在新建演示台账（批次与公示）…"):
            r = prepare_ledger(db, Actor(actor, "official"), _dataset(SAMPLE_MANIFEST, d), lib.policies,
                               _as_of(None, SAMPLE_MANIFEST), d)
    console.print(f"演示台账 {r.url}：批次 {r.batch_id}（模拟日期 {r.dated}）新增 {r.created} 笔，合计 "
                  f"{fmt_yuan(r.created_fen)} 元；即申即享邀约 {r.invited} 笔；{r.published} 笔公示至 {r.notice_end}，"
                  "今天即可审批", highlight=False)


# ------------------------------------------------------------------ payouts


@payouts_app.command("list")
def payouts_list(
    db: DbOpt = None,
    status: Annotated[str | None, typer.Option(help="只看该状态。")] = None,
    policy: Annotated[str | None, typer.Option(help="只处理该政策编号。")] = None,
    region: Annotated[str | None, typer.Option(help="只看该行政区划代码。")] = None,
    rows: Annotated[bool, typer.Option("--rows", help="列出每一笔，而不只是合计。")] = False,
    by: Annotated[str, typer.Option(help="分组依据：policy（政策）、region（地区）、status（状态），用逗号分隔。")] = "policy,status",
) -> None:
    """按政策、地区和/或状态分组的笔数与金额（可筛选），可列出每一笔。"""
    from .common import domain_errors

    groups = tuple(b.strip() for b in by.split(",") if b.strip())
    if not groups or any(g not in HEADS for g in groups):
        err.print(f"错误：--by 只能是 policy、region、status 的组合，而不是 {by!r}")
        raise typer.Exit(2)
    me = Actor("命令行", "official")
    f = service.PayoutFilter((status,) if status else (), policy, region)
    with domain_errors():
        console.print(summary_table(service.summary(_sf(db), me, groups, f), "兑现记录", groups))
        if rows:
            for p in service.list_payouts(_sf(db), me, f, limit=None):
                console.print(f"{p.reference} {p.policy_id} {p.credit_code} {p.period} {fmt_yuan(p.amount_fen)} "
                              f"{lifecycle.STATUS_ZH.get(p.status, p.status)}", highlight=False)


@payouts_app.command("explain")
def payouts_explain(reference: Annotated[str, typer.Argument(help="兑现记录编号（MS 开头）。")],
                    db: DbOpt = None,
                    policies: Annotated[Path | None, typer.Option("--policies", "-p", help="政策目录。")] = None) -> None:
    """一笔兑现的说明：所依据的政策版本按记录的数据重算，每个条件的取值与来源、金额计算、实发金额与分配说明、来由，以及记录与政策或兑现金额不一致之处。"""
    from ..data.tags import load_dictionary
    from ..library.loader import load_library
    from .common import DEFAULT_POLICIES, domain_errors

    with domain_errors():  # the policies and the ledger only: no enterprise data is loaded
        d = load_dictionary()
        lib = load_library(policies or Path(os.environ.get("MIANSHEN_POLICIES") or DEFAULT_POLICIES), d)
        _, e = service.explain_payout(_sf(db), Actor("命令行", "official"), reference, lib.policies, d)
    console.print(e.to_text(), highlight=False, markup=False)
    if e.grant is not None and e.grant.discrepancies:
        raise typer.Exit(1)


def _actor(name: str, role: str = "official") -> Actor:
    from .common import domain_errors

    with domain_errors():
        return Actor(name, role)


@payouts_app.command("publish")
def payouts_publish(
    actor: ActorOpt, db: DbOpt = None,
    start: Annotated[str | None, typer.Option(help="公示开始日期：今天（默认）或之后。")] = None,
    policy: Annotated[str | None, typer.Option(help="只处理该政策编号。")] = None,
) -> None:
    """把全部待公示的兑现列入公示，公示期 5 个工作日。"""
    from .common import domain_errors

    with domain_errors():
        day = _date(start) if start else None
        n, first, last = service.publish_candidates(_sf(db), _actor(actor), policy, day)
    console.print(f"{n} 笔列入公示，公示期 {first} 至 {last}", highlight=False)


@payouts_app.command("approve")
def payouts_approve(
    actor: ActorOpt, db: DbOpt = None,
    policy: Annotated[str | None, typer.Option(help="只处理该政策编号。")] = None,
) -> None:
    """审批公示期已在今天之前届满的全部兑现（以服务器日期为准，任何参数都不能改变），并排入通知。"""
    from .common import domain_errors

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
    from .common import domain_errors

    with domain_errors():
        p = act()
    assert isinstance(p, Payout)
    console.print(f"{p.reference}：{lifecycle.STATUS_ZH.get(p.status, p.status)}", highlight=False)


@payouts_app.command("withdraw")
def payouts_withdraw(ref: str, actor: ActorOpt, reason: ReasonOpt, db: DbOpt = None) -> None:
    """撤回待公示或公示中的兑现（异议成立，或已不再符合）。"""
    _one(ref, lambda: service.withdraw(_sf(db), _actor(actor), ref, reason))


@payouts_app.command("retry")
def payouts_retry(ref: str, actor: ActorOpt, reason: ReasonOpt = "重新发起支付", db: DbOpt = None) -> None:
    """把支付失败的兑现退回已审批，列入下一个支付文件。"""
    _one(ref, lambda: service.retry(_sf(db), _actor(actor), ref, reason))


@payouts_app.command("revoke")
def payouts_revoke(
    ref: str, actor: ActorOpt, reason: ReasonOpt, db: DbOpt = None,
    amount: Annotated[str | None, typer.Option(help="追回金额（元，默认：全额）。")] = None,
) -> None:
    """追回已支付的兑现并记录追回金额。"""
    from ..data.values import parse_money_fen

    _one(ref, lambda: service.revoke(_sf(db), _actor(actor), ref, reason, parse_money_fen(amount) if amount else None))


@payouts_app.command("notice")
def payouts_notice(out: Path, actor: ActorOpt, db: DbOpt = None) -> None:
    """导出公示名单（.xlsx 或 .csv），个人信息已脱敏。"""
    from ..data.exporting import fmt_of, write_atomic
    from .common import domain_errors

    with domain_errors():
        data, n = service.export_notice(_sf(db), _actor(actor), fmt_of(out))
        write_atomic(out, data)
    console.print(f"公示名单 {n} 笔，已写入 {out}", highlight=False)


# ------------------------------------------------------------------ payment


@payment_app.command("export")
def payment_export(out: Path, actor: ActorOpt, db: DbOpt = None) -> None:
    """为尚未发送的已审批兑现登记支付文件（.csv 或 .xlsx），再写出文件。台账先提交：磁盘上的文件一定是台账已登记的（若本进程在写文件前中断，可用 payment download 重新取得）。"""
    from ..data.exporting import fmt_of, write_atomic
    from .common import domain_errors

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
    """逐字节重新写出已登记的支付文件（按登记的哈希核对）。"""
    from ..data.exporting import write_atomic
    from .common import domain_errors

    with domain_errors():
        f = service.payment_file(_sf(db), _actor(actor), ref)
        write_atomic(out, f.content)
    console.print(f"{out}：支付文件 {f.reference}，SHA-256 {f.sha256}", highlight=False)


@payment_app.command("import")
def payment_import(path: Path, actor: ActorOpt, db: DbOpt = None) -> None:
    """导入银行回执文件。每一行必须对应其所指支付文件中尚未回执的一行（文件编号与 SHA-256、编号、金额、账号一致），否则拒收。"""
    from ..errors import DataError
    from .common import domain_errors

    with domain_errors():
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise DataError(f"{path}：无法读取银行回单（{os_reason(exc)}）") from None
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
    sender: Annotated[str, typer.Option(help="file:路径 或 webhook:地址")],
    db: DbOpt = None,
) -> None:
    """每条到期通知发送一次（重试间隔递增：30 秒、1 分钟、2 分钟……）。"""
    from ..service.ledger import dispatch_outbox
    from .common import domain_errors

    with domain_errors():
        r, pending = dispatch_outbox(_sf(db), Actor("命令行", "official"), sender)
    console.print(f"已发送 {r.sent}，待重试 {r.retried}，放弃 {r.dead}；待发送 {pending}", highlight=False)


@audit_app.command("init-key")
def audit_init_key() -> None:
    """生成审计签名密钥对（每套部署一次，不会覆盖已有密钥）：私钥（MIANSHEN_AUDIT_KEY，权限 0600）留在执行资金操作的
    机器上，公钥（MIANSHEN_AUDIT_PUBKEY，默认与私钥同名加 .pub）交给审计核验方。"""
    from .common import domain_errors

    with domain_errors():
        private, public = service.init_audit_key()
    console.print(f"已生成审计签名私钥 {private}（仅限本机读取）和公钥 {public}", markup=False, highlight=False)


@audit_app.command("verify")
def audit_verify(actor: Annotated[str, typer.Option("--actor", help="核验人。")] = "审计核验",
                 db: DbOpt = None) -> None:
    """核验审计链、数据库外的签名检查点，以及台账与日志是否一致；逐一列出发现的问题。"""
    from .common import domain_errors

    with domain_errors():
        r = service.verify_audit(_sf(db), Actor(actor, "auditor"))
    for p in r.problems:
        err.print(p, markup=False, highlight=False)
    for n in r.notes:
        console.print(f"提示：{n}", markup=False, highlight=False)
    seq, head = r.head
    console.print(f"{MODES.get(r.mode, r.mode)}账本；审计日志 {r.entries} 条，链头 {seq}:{head[:16]}…，签名锚点 {r.checkpoints} 个，"
                  f"发现问题 {len(r.problems)} 处", highlight=False)
    if r.problems:
        raise typer.Exit(1)


def replay(
    as_of: Annotated[str, typer.Option("--as-of", help="要重现的评估日期（YYYY-MM-DD）。")],
    actor: Annotated[str, typer.Option("--actor", help="核验人。")] = "重现核验",
    db: DbOpt = None,
) -> None:
    """按某日当时的数据版本和政策版本重新评估，并逐一重现当日的每个批次（数据摘要、符合条件的企业与金额、
    批次生成的每一笔）；有不一致时退出码为 1。"""
    from ..data.tags import load_dictionary
    from ..service.replay import replay as run_replay
    from .common import domain_errors

    with domain_errors():
        day = _date_option(as_of)
        r = run_replay(_sf(db), Actor(actor, "auditor"), day, load_dictionary())
    console.print(f"{day.isoformat()}：数据版本 {r.data_version or '（无）'}，政策 {len(r.policies)} 项；"
                  f"符合 {r.eligible} 对，合计 {fmt_yuan(r.eligible_fen)} 元，待补充数据 {r.undetermined} 对",
                  highlight=False)
    for run in r.runs:
        mark = "一致" if run.ok else "不一致"
        console.print(f"批次 {run.batch_id}（{run.started_at:%Y-%m-%d %H:%M}，数据版本 {run.data_version or '无'}）："
                      f"{mark}；数据摘要{'相同' if run.data_same else '不同'}，符合条件 {run.eligible} 对"
                      f"（当时 {run.recorded_eligible if run.recorded_eligible is not None else '未记录'}），"
                      f"生成的 {run.created} 笔重现 {run.created_same} 笔", highlight=False)
        for p in run.problems:
            err.print(f"  {p}", markup=False, highlight=False)
    if not r.runs:
        console.print("该日没有批次：以上为按当日数据与政策版本的重新评估", highlight=False)
    if not r.ok:
        raise typer.Exit(1)


def _date_option(text: str) -> dt.date:
    from ..errors import Invalid

    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise Invalid(f"日期应写作 YYYY-MM-DD，而不是 {text!r}") from None


worker_app = typer.Typer(help="事件处理进程：基于 durable-rules 响应标签数据更新。", no_args_is_help=True)
events_app = typer.Typer(help="传入的标签事件：写入事件处理进程轮询的表；列出死信。",
                         no_args_is_help=True)


@worker_app.command("run")
def worker_run(
    source: Annotated[str, typer.Option(help="事件来源：file:路径（JSON 行或 CSV）、stdin 或 table（tag_events 表）。")] = "table",
    db: DbOpt = None,
    data: Annotated[Path | None, typer.Option("--data", "-d", help="企业基础数据（数据清单或 Parquet）。")] = None,
    policies: Annotated[Path | None, typer.Option("--policies", "-p", help="政策目录。")] = None,
    as_of: Annotated[str | None, typer.Option("--as-of", help="按该日期评估（默认：当天日期）。")] = None,
    follow: Annotated[bool, typer.Option("--follow", help="持续轮询新事件，直到收到 SIGTERM。")] = False,
    chunk: Annotated[int, typer.Option(help="每个事务处理的事件数。")] = 100,
    poll: Annotated[float, typer.Option(help="使用 --follow 时两次轮询间隔的秒数。")] = 1.0,
) -> None:
    """逐条处理标签事件：新的兑现候选、撤回、通知。收到 SIGTERM 时提交手头事件后停止；重启后从最后提交的事件之后继续。"""
    import signal

    from ..data.datasets import SAMPLE_MANIFEST
    from ..data.tags import load_dictionary
    from ..ledger.worker import Worker, source_from
    from .common import DEFAULT_POLICIES, _dataset, _library, domain_errors

    stopping = {"flag": False}

    def on_term(signum: int, _frame: object) -> None:
        stopping["flag"] = True
        err.print(f"收到信号 {signum}：处理完手头的事件后停止")

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    with domain_errors():
        d = load_dictionary()
        lib = _library(policies or DEFAULT_POLICIES, d, strict=True)
        ds = _dataset(data or SAMPLE_MANIFEST, d)
        sf = _sf(db)
        delivered = {(str(c), t.key) for t in d if t.derived and t.key in ds.provenance
                     for c, src in zip(ds.frame["credit_code"], ds.provenance[t.key], strict=True) if src >= 0}
        w = Worker(sf, d, lib.policies, ds.frame, dt.date.fromisoformat(as_of) if as_of else None,
                   delivered=delivered)
        src = source_from(source, sf)
        console.print(f"事件处理：{len(w.policies)} 项政策，{len(ds.frame)} 家基础企业，来源 {src.name}",
                      highlight=False)
        stats = w.run(src, stop=lambda: stopping["flag"], follow=follow, chunk=chunk, poll_s=poll,
                      report=lambda st: err.print(st.line(), highlight=False))
    console.print("完成：" + stats.line(), highlight=False)


@events_app.command("add")
def events_add(
    credit_code: str, tag: str, value: str,
    as_of: Annotated[str, typer.Option("--as-of", help="数值的截至日期。")],
    source: Annotated[str, typer.Option(help="来源部门代号，例如 science。")],
    db: DbOpt = None,
) -> None:
    """在 tag_events 表中排入一条标签更新（供 worker run --source table 处理）。"""
    from ..service.ledger import queue_tag_event

    n = queue_tag_event(_sf(db), Actor("命令行", "official"), credit_code, tag, value, as_of, source)
    console.print(f"事件 {n} 已排队", highlight=False)


@events_app.command("dead-letters")
def events_dead_letters(db: DbOpt = None) -> None:
    """事件处理进程无法使用的事件及原因。"""
    from ..service.ledger import dead_letters

    rows = dead_letters(_sf(db), Actor("命令行", "official"))
    for r in rows:
        console.print(f"{r.source}: {r.reason}  {r.raw[:120]}", highlight=False, markup=False)
    console.print(f"死信 {len(rows)} 条", highlight=False)


def register(app: typer.Typer) -> None:
    app.add_typer(tiers_app, name="tiers")
    app.add_typer(worker_app, name="worker")
    app.add_typer(events_app, name="events")
    app.add_typer(batch_app, name="batch")
    app.add_typer(payouts_app, name="payouts")
    app.add_typer(payment_app, name="payment")
    app.add_typer(outbox_app, name="outbox")
    app.add_typer(audit_app, name="audit")
    app.command("replay")(replay)


# ------------------------------------------------------------------ delivery tiers

tiers_app = typer.Typer(help="即申即享邀约、申报、企业补充的数据（待补充数据）、异议。",
                        no_args_is_help=True)


def _platform():  # type: ignore[no-untyped-def]
    from ..service.platform import Platform

    return Platform.from_env()


@tiers_app.command("invitations")
def tiers_invitations(credit_code: str) -> None:
    """一家企业的邀约（即申即享）及其状态。"""
    from ..service import tiers
    from .common import domain_errors

    with domain_errors():
        rows = tiers.invitations(_platform(), Actor("命令行", "official"), credit_code)
    for i in rows:
        console.print(f"{i.reference} {i.policy_id} {fmt_yuan(i.amount_fen)} 元 {tiers.INVITATION_ZH[i.status]} "
                      f"截止 {i.expires_on}", highlight=False)


@tiers_app.command("confirm")
def tiers_confirm(ref: str, actor: ActorOpt, credit_code: Annotated[str, typer.Option(help="企业的统一社会信用代码。")],
                  decline: Annotated[bool, typer.Option("--decline", help="改为放弃。")] = False) -> None:
    """代企业确认享受或放弃邀约（窗口代办）。"""
    from ..service import tiers
    from .common import domain_errors

    with domain_errors():
        inv = tiers.decide_invitation(_platform(), Actor(actor, "enterprise", credit_code), ref, not decline)
    console.print(f"{inv.reference}：{tiers.INVITATION_ZH[inv.status]}", highlight=False)


@tiers_app.command("expire")
def tiers_expire(actor: ActorOpt) -> None:
    """把过期未办理的邀约标为已过期（每日运行）。"""
    from ..service import tiers
    from .common import domain_errors

    with domain_errors():
        n = tiers.expire_invitations(_platform(), Actor(actor, "official"))
    console.print(f"{n} 个邀约已过期", highlight=False)


@tiers_app.command("applications")
def tiers_applications(status: Annotated[str | None, typer.Option(help="状态：submitted（待审核）、returned（已退回）、accepted（已通过）、rejected（不予通过）。")]
                       = "submitted") -> None:
    """申报（默认：待审核的）。"""
    from ..service import tiers
    from .common import domain_errors

    with domain_errors():
        rows = tiers.applications(_platform(), Actor("命令行", "official"), status=status)
    for a in rows:
        console.print(f"{a.reference} {a.policy_id} {a.credit_code} {tiers.APPLICATION_ZH[a.status]} {a.statement[:40]}",
                      highlight=False, markup=False)


@tiers_app.command("review")
def tiers_review(ref: str, decision: Annotated[str, typer.Argument(help="accept（通过）、return（退回补正）或 reject（不予通过）")],
                 actor: ActorOpt, reason: ReasonOpt) -> None:
    """审核申报：accept 通过（计算金额）、return 退回补正、reject 不予通过。"""
    from ..service import tiers
    from .common import domain_errors

    with domain_errors():
        a = tiers.review_application(_platform(), Actor(actor, "official"), ref, decision, reason)
    console.print(f"{a.reference}：{tiers.APPLICATION_ZH[a.status]}"
                  + (f"，核定 {fmt_yuan(a.amount_fen)} 元" if a.amount_fen else ""), highlight=False)


@tiers_app.command("supplied")
def tiers_supplied(status: Annotated[str | None, typer.Option(help="状态：submitted（待核验）、verified（已核验）、rejected（未采信）。")] = "submitted"
                   ) -> None:
    """企业为待补充数据提交的数值（默认：待核验的）。"""
    from ..service import tiers
    from .common import domain_errors

    with domain_errors():
        rows = tiers.supplied(_platform(), Actor("命令行", "official"), status=status)
    for v in rows:
        console.print(f"{v.reference} {v.credit_code} {v.tag}={v.value} {tiers.SUPPLIED_ZH[v.status]}",
                      highlight=False, markup=False)


@tiers_app.command("verify")
def tiers_verify(ref: str, actor: ActorOpt, reason: ReasonOpt,
                 refuse: Annotated[bool, typer.Option("--refuse", help="改为不采信。")] = False) -> None:
    """核验（或不采信）企业提交的数值，并显示它对该企业的影响。"""
    from ..service import tiers
    from .common import domain_errors

    with domain_errors():
        r = tiers.verify_supplied(_platform(), Actor(actor, "official"), ref, not refuse, reason)
    changed = [f"{k}：{r.before[k]}→{r.after[k]}" for k in r.after if r.after[k] != r.before[k]]
    console.print(f"{r.value.reference}：{tiers.SUPPLIED_ZH[r.value.status]}；重新判定：{'；'.join(changed) or '无变化'}",
                  highlight=False)


@tiers_app.command("data-requests")
def tiers_data_requests(out: Annotated[Path | None, typer.Option("--out", help="写出 .xlsx 或 .csv。")] = None) -> None:
    """哪些部门的哪些数据补齐后能让最多待定的奖补兑现。"""
    from ..data.exporting import fmt_of, table_bytes, write_atomic
    from ..service import tiers
    from .common import domain_errors

    with domain_errors():
        df = tiers.data_requests(_platform(), Actor("命令行", "official"))
        if out:
            write_atomic(out, table_bytes(df, fmt_of(out), money=["可释放金额（估算，元）"]))
    for r in df.head(20).itertuples(index=False):
        console.print(f"{r[0]}　{r[1]}：待定 {r[3]} 项，{r[4]} 家企业，约 {r[5]:,.2f} 元", highlight=False)
