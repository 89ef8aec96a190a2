"""Command-line interface: `mianshen --help` or `python -m rules_engine --help`.

The library raises domain errors; this module turns them into messages and exit codes.
"""

from __future__ import annotations

import datetime as dt
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import numpy as np
import pandas as pd
import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from .. import errors, ir
from ..data.datasets import SAMPLE_MANIFEST
from ..data.frame import row_of
from ..data.tags import DEFAULT_DICTIONARY, load_dictionary
from ..data.values import fmt_yuan
from ..errors import EngineError
from ..explain import Explainer, Provenance, check_up
from ..language.render_zh import Renderer
from ..library.loader import load_library
from . import zh
from .common import DEFAULT_POLICIES, ROOT, _as_of, _dataset, _library, console, domain_errors, err, open_source

__all__ = ["DEFAULT_POLICIES", "ROOT", "app", "main", "open_source"]

zh.install()
app = typer.Typer(
    help="免申即享政策匹配引擎：校验与测试政策，匹配企业，说明每项判定。",
    no_args_is_help=True,
    add_completion=False,
)
PoliciesOpt = Annotated[Path, typer.Option("--policies", "-p", help="政策文件或目录。")]
TagsOpt = Annotated[Path, typer.Option("--tags", help="标签字典（YAML）。")]
DataOpt = Annotated[Path, typer.Option("--data", "-d", help="数据清单（YAML）或 Parquet/CSV/XLSX 文件。")]
SourceOpt = Annotated[str, typer.Option(
    "--data", "-d", help="数据清单、Parquet/CSV/XLSX 文件、存储格式 Parquet（Spark），或数据库地址如 postgresql://user@host/db（数据库内匹配；用 --table 指定表）。")]
BackendOpt = Annotated[str | None, typer.Option(
    "--backend", help="在哪里匹配：vectorized（本进程）、sql（在 --data 地址所指数据库内）、spark（Spark 会话读取存储格式 Parquet）。默认：数据库地址用 sql，否则 vectorized。")]
TableOpt = Annotated[str, typer.Option("--table", help="企业数据表（sql 方式；spark 方式以 table:表名 作为 --data）。")]
PartitionsOpt = Annotated[int | None, typer.Option("--partitions", help="Spark：local[N] 的核数与分区数。")]
AsOfOpt = Annotated[str | None, typer.Option("--as-of", help="评估日期 YYYY-MM-DD（默认：数据的日期）。")]


@app.command()
def validate(policies: PoliciesOpt = DEFAULT_POLICIES, tags: TagsOpt = DEFAULT_DICTIONARY) -> None:
    """加载全部政策文件，逐个报告问题所在的文件、行与列。"""
    with domain_errors():
        d = load_dictionary(tags)
        lib = load_library(policies, d)
    for p in lib.problems:
        err.print(str(p), markup=False, highlight=False, soft_wrap=True)
    files = len({p.source for p in lib.policies}) + len({p.file for p in lib.problems})
    console.print(f"已加载 {len(lib.policies)} 项政策（{files} 个文件），问题 {len(lib.problems)} 个")
    if lib.problems:
        raise typer.Exit(1)


@app.command("test")
def test_cmd(
    policies: PoliciesOpt = DEFAULT_POLICIES,
    tags: TagsOpt = DEFAULT_DICTIONARY,
    policy: Annotated[str | None, typer.Option("--policy", help="只处理该政策编号。")] = None,
) -> None:
    """运行每项政策旁的测试用例，两个求值器各跑一遍。"""
    from ..library.policytests import run_policy_tests

    with domain_errors():
        d = load_dictionary(tags)
        lib = _library(policies, d, strict=True)
        chosen = [p for p in lib.policies if policy is None or p.id == policy]
        results = run_policy_tests(chosen, d)
    failed = [r for r in results if not r.ok]
    for r in failed:
        err.print(f"未通过 {r.where} {r.policy.id} · {r.case.name}", markup=False)
        for problem in r.problems:
            err.print(f"     {problem}", markup=False)
    console.print(f"通过 {len(results) - len(failed)} 个，未通过 {len(failed)} 个")
    if failed or not results:
        raise typer.Exit(1)


@app.command("lint")
def lint_cmd(
    policies: PoliciesOpt = DEFAULT_POLICIES,
    tags: TagsOpt = DEFAULT_DICTIONARY,
    data: DataOpt = SAMPLE_MANIFEST,
    today: Annotated[str | None, typer.Option("--today", help="判断是否过期所用的日期（默认：今天）。")] = None,
) -> None:
    """检查政策库：重复版本、互斥未定优先级、已过期仍生效的政策、数据从不填写的标签、可能超出预算的金额。"""
    from ..library.lint import lint

    with domain_errors():
        d = load_dictionary(tags)
        lib = _library(policies, d, strict=True)
        ds = _dataset(data, d)
        when = dt.date.fromisoformat(today) if today else dt.date.today()
        findings = lint(lib, when, ds.frame)
    for f in findings:
        console.print(str(f), highlight=False, markup=False)
    console.print(f"已检查 {len(lib.policies)} 项政策，发现 {len(findings)} 个问题")
    if findings:
        raise typer.Exit(1)


@app.command()
def draft(
    file: Annotated[Path, typer.Argument(help="政策原文：文本（.txt）、Word（.docx）或带文字层的 PDF。")],
    out: Annotated[Path | None, typer.Option("--out", "-o", help="把每条草稿写成一个 YAML 文件到此目录。")] = None,
    tags: TagsOpt = DEFAULT_DICTIONARY,
) -> None:
    """从政策原文起草政策规则（政策拆解）：每个条件、金额都标出原文出处，未识别的列为待核对事项。"""
    from ..service import drafting
    from ..service.actors import Actor

    with domain_errors():
        d = load_dictionary(tags)
        try:
            data = file.read_bytes()
        except OSError as exc:
            err.print(f"错误：无法读取 {file}：{errors.os_reason(exc)}", markup=False, highlight=False)
            raise typer.Exit(1) from None
        doc = drafting.draft_document(Actor("命令行", "official"), d, data, file.name)
    text = doc.source.text
    console.print(f"[bold]{doc.header.title or '（未识别标题）'}[/] {doc.header.number}", highlight=False)
    for n in doc.source.notes:
        console.print(f"说明：{n}", highlight=False)
    for o in doc.opens:
        console.print(f"待核对：{o.message}", highlight=False)
    for dd in doc.drafts:
        state = "可加载" if dd.loads else "未能加载"
        console.print(f"\n[bold]{dd.article}[/] {dd.policy_id}（{state}，测试用例 {dd.cases} 个）", highlight=False)
        for o in dd.opens:
            console.print(f"  待核对：{o.message}", highlight=False)
        for p in dd.parts:
            console.print(f"  {p.role}：{p.rule}  ← 原文第 {p.span[0] + 1}–{p.span[1]} 字「{text[p.span[0]:p.span[1]]}」",
                          highlight=False)
        for pr in dd.problems:
            err.print(pr, markup=False, highlight=False, soft_wrap=True)
    if out is not None:
        try:
            out.mkdir(parents=True, exist_ok=True)
            for dd in doc.drafts:
                (out / f"{dd.policy_id}.yaml").write_text(dd.yaml, encoding="utf-8")
        except OSError as exc:
            err.print(f"错误：无法写入 {out}：{errors.os_reason(exc)}", markup=False, highlight=False)
            raise typer.Exit(1) from None
        if doc.drafts:
            console.print(f"\n已写入 {len(doc.drafts)} 个草稿文件到 {out}", highlight=False)
    console.print(f"\n共起草 {len(doc.drafts)} 条，可加载 {sum(d.loads for d in doc.drafts)} 条；"
                  f"待核对事项 {len(doc.opens) + sum(len(d.opens) for d in doc.drafts)} 项；"
                  f"用时 {doc.elapsed_s:.2f} 秒", highlight=False)
    if not doc.drafts:
        err.print("未找到支持条款（给予…奖励、补助、补贴）", markup=False, highlight=False)
        raise typer.Exit(1)


@app.command()
def show(policy_id: str, policies: PoliciesOpt = DEFAULT_POLICIES, tags: TagsOpt = DEFAULT_DICTIONARY) -> None:
    """以中文显示一项政策：条件、金额、政策依据。"""
    with domain_errors():
        d = load_dictionary(tags)
        lib = _library(policies, d)
        try:
            p = lib.get(policy_id)
        except KeyError:
            err.print(f"错误：没有政策 {policy_id!r}")
            raise typer.Exit(1) from None
    r = Renderer(d)
    console.print(f"[bold]{p.title}[/]  （{p.id} 第 {p.version} 版，{p.tier.value}，"
                  f"{ir.POLICY_STATUS_ZH.get(p.status, p.status)}）", highlight=False)
    console.print(f"依据：{p.basis.document}（{p.basis.number}）{p.basis.article}", highlight=False)
    end = p.valid_to.isoformat() if p.valid_to else "长期"
    console.print(f"有效期：{p.valid_from.isoformat()} 至 {end}；主管部门：{p.department}", highlight=False)
    console.print("申报条件（须全部满足）：", highlight=False)
    for i, c in enumerate(p.conditions, 1):
        console.print(f"  {i}. {c.label or r.pred(c.pred)}" + (f"（{c.article}）" if c.article else ""), highlight=False)
        if c.label:
            console.print(f"     即：{r.pred(c.pred)}", highlight=False)
    console.print(f"兑现标准：{r.formula(p.benefit)}", highlight=False)
    if p.exclusive:
        prec = p.exclusive.precedence if p.exclusive.precedence is not None else "未设定"
        console.print(f"就高不重复：{p.exclusive.group}（优先级 {prec}）", highlight=False)


@app.command()
def explain(
    credit_code: str,
    data: DataOpt = SAMPLE_MANIFEST,
    policies: PoliciesOpt = DEFAULT_POLICIES,
    tags: TagsOpt = DEFAULT_DICTIONARY,
    as_of: AsOfOpt = None,
    policy: Annotated[str | None, typer.Option("--policy", help="只说明该政策。")] = None,
) -> None:
    """一家企业的政策体检：符合哪些政策、缺少哪些数据、差一项即可满足哪些，并逐条说明。"""
    with domain_errors():
        d = load_dictionary(tags)
        lib = _library(policies, d)
        ds = _dataset(data, d)
        try:
            i = ds.index_of(credit_code)
        except KeyError:
            err.print(f"错误：{data} 中没有企业 {credit_code}")
            raise typer.Exit(1) from None
        when = _as_of(as_of, data)
        row = row_of(ds.frame, i, d)
        prov = {k: Provenance(d.sources[s].label, a, f) for k, (s, a, f) in ds.provenance_of(i).items()}
        chosen = [p for p in lib.active() if policy is None or p.id == policy]
        if policy is not None:
            for p in chosen:
                console.print(Explainer(d).explain(p, row, when, prov).to_text(), highlight=False, markup=False)
            return
        cu = check_up(chosen, row, when, d, prov)
    console.print(f"{row.get('name')}（{credit_code}）评估日期 {when}", highlight=False, markup=False)
    console.print(f"符合 {len(cu.eligible)} 项，合计 {fmt_yuan(cu.total_fen)} 元；"
                  f"待补充数据 {len(cu.undetermined)} 项；差一项即可满足 {len(cu.near_misses)} 项", highlight=False)
    for e in cu.eligible + cu.undetermined:
        console.print(e.to_text(), highlight=False, markup=False)
        console.print()
    for nm in cu.near_misses:
        console.print(f"差一项：【{nm.policy.title}】{nm.condition.label or nm.condition.zh}"
                      + (f"；{nm.condition.gap}" if nm.condition.gap else ""), highlight=False, markup=False)


def _statuses(all_rows: bool) -> tuple[ir.Status, ...] | None:
    return None if all_rows else (ir.Status.ELIGIBLE, ir.Status.UNDETERMINED)


@app.command()
def match(
    data: SourceOpt = str(SAMPLE_MANIFEST),
    policies: PoliciesOpt = DEFAULT_POLICIES,
    tags: TagsOpt = DEFAULT_DICTIONARY,
    as_of: AsOfOpt = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="写出结果：.csv、.parquet 或 .xlsx")] = None,
    all_rows: Annotated[bool, typer.Option("--all", help="同时写出不符合的企业与政策组合。")] = False,
    chunk: Annotated[int, typer.Option(help="每块处理的企业数（写出的行按块留在内存中）。")] = 1_000_000,
    backend: BackendOpt = None,
    table: TableOpt = "enterprises",
    out_table: Annotated[str | None, typer.Option(
        "--out-table", help="sql 方式：把结果写入同一数据库的该表（不存在则创建；同一评估日期的行被替换），数据不出数据库。")] = None,
    partitions: PartitionsOpt = None,
) -> None:
    """将全部企业与全部生效政策匹配；显示汇总，可写出结果文件。

不写出文件时只计算符合与否和金额；写出时（-o），只为写出的行列出待补充的数据和不符合的条件。"""
    from ..data.datasets import is_storage_parquet, iter_storage_parquet
    from ..results import result_frame
    from ..service import matching
    from ..sources import FrameSource, SparkSource, SqlSource, backend_of

    with domain_errors():
        d = load_dictionary(tags)
        lib = _library(policies, d)
        active = lib.active()
        kind = backend_of(data, backend)
        when = _as_of(as_of, Path(data) if kind != "sql" else Path("-"))
        if out_table is not None and kind != "sql":
            raise EngineError("--out-table 只能与 sql 后端同用（--data 为数据库地址）")
        t0 = time.perf_counter()
        if kind != "vectorized":
            source = open_source(kind, data, table, partitions, d)
            load_s = time.perf_counter() - t0
            console.print(f"后端：{source.description}", highlight=False)
            t1 = time.perf_counter()
            result = None
            if out_table is not None:
                assert isinstance(source, SqlSource)  # refused above for other backends
                n_written = source.results_into(active, when, out_table, _statuses(all_rows))
                # the summary is counted in the database too; --out reads the table back
                counts = source.counts_in(out_table, active, when)
                _summary(counts, active, source.count, when, load_s, time.perf_counter() - t1)
                console.print(f"已写出 {n_written} 行到表 {out_table}")
                result = source.read_results(out_table, active, when) if out is not None else None
            elif out is not None and isinstance(source, SparkSource) and out.suffix.lower() == ".parquet" \
                    and not all_rows:  # written by the executors, a directory of parts: any size
                source.write_results(active, when, str(out))
                _summary(matching.parquet_counts(out), active, source.count, when, load_s, time.perf_counter() - t1)
                console.print(f"已写出到 {out}（Spark 写出的目录）", highlight=False)
                return
            elif out is not None:
                result = matching.results(source, active, when, _statuses(all_rows))
                _summary(matching.counts_of(result), active, source.count, when, load_s, time.perf_counter() - t1)
            else:
                _summary(matching.summary(source, active, when), active, source.count, when, load_s,
                         time.perf_counter() - t1)
            if out is not None and result is not None:
                write_results(result, out)
                console.print(f"已写出 {len(result)} 行到 {out}")
            return
        path = Path(data)
        parquet = (path.is_dir() or path.suffix == ".parquet") and path.exists() and is_storage_parquet(path)
        to_parquet = out is None or out.suffix.lower() == ".parquet"
        ds = None
        if not (parquet and to_parquet):  # storage Parquet to Parquet is streamed from the files themselves
            ds = _dataset(path, d)
            if ds.rejects:
                err.print(f"[yellow]拒收 {len(ds.rejects)} 处（行或单元格，见 mianshen data-report）[/]")
        load_s = time.perf_counter() - t0
        parts = iter_storage_parquet(path, d, chunk) if ds is None else \
            (ds.frame.iloc[start : start + chunk] for start in range(0, max(len(ds.frame), 1), chunk))
        if to_parquet:
            # a slice at a time, appended to the file: memory is one slice's, whatever the size
            sink = matching.ParquetResults(out) if out is not None else None
            with _progress() as bar:
                task = bar.add_task("match", total=None if ds is None else len(ds.frame))
                done = matching.stream(_advancing(parts, bar, task), active, when, _statuses(all_rows), sink)
                if sink is not None:
                    sink.close()
            _summary(done.summary(), active, done.enterprises, when, load_s + done.read_s, done.match_s)
            if sink is not None:
                console.print(f"已写出 {done.written} 行到 {out}（写出 {done.write_s:.2f} 秒）", highlight=False)
            return
        # .csv and .xlsx are written at the end: the rows are held in memory
        assert ds is not None and out is not None
        frames = []
        t1 = time.perf_counter()
        with _progress() as bar:
            task = bar.add_task("match", total=len(ds.frame))
            for part in _advancing(parts, bar, task):
                frames.append(matching.results(FrameSource(part), active, when, _statuses(all_rows)))
        match_s = time.perf_counter() - t1
    result = pd.concat(frames, ignore_index=True) if frames else result_frame([])
    _summary(matching.counts_of(result), active, len(ds.frame), when, load_s, match_s)
    with domain_errors():
        write_results(result, out)
    console.print(f"已写出 {len(result)} 行到 {out}")


def _progress() -> Progress:
    return Progress(TextColumn("匹配中"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=err, disable=not sys.stderr.isatty())


def _advancing(parts: Iterator[pd.DataFrame], bar: Progress, task: TaskID) -> Iterator[pd.DataFrame]:
    for part in parts:
        yield part
        bar.advance(task, len(part))


accounts_app = typer.Typer(help="网页端的本地账户（ui/accounts.yaml 或 $MIANSHEN_ACCOUNTS）。",
                           no_args_is_help=True)
app.add_typer(accounts_app, name="accounts")


@accounts_app.command("hash")
def accounts_hash(password: Annotated[str | None, typer.Option(help="口令（不提供则提示输入两次，输入不回显）。")] = None
                  ) -> None:
    """显示口令的 scrypt 哈希，填入账户的 password: 字段。"""
    from ..service.accounts import hash_password

    if password is None:  # Click's prompts and Python's getpass warnings are English: ask in Chinese
        password = _secret("口令：")
        if _secret("再次输入口令：") != password:
            err.print("错误：两次输入的口令不一致")
            raise typer.Exit(1)
    if not password:
        err.print("错误：口令不能为空")
        raise typer.Exit(1)
    typer.echo(hash_password(password))  # one line, never wrapped: it is pasted into a file


def _secret(prompt: str) -> str:
    import getpass

    if sys.stdin.isatty():
        return getpass.getpass(prompt)
    sys.stderr.write(prompt)
    return sys.stdin.readline().rstrip("\r\n")  # piped in (a script): nothing to hide from a terminal


@accounts_app.command("check")
def accounts_check(path: Annotated[Path | None, typer.Argument(help="账户文件。")] = None) -> None:
    """加载账户文件，列出各账户及其角色（不显示哈希）。"""
    from ..service.accounts import load_accounts

    with domain_errors():
        accounts = load_accounts(path)
    for a in accounts.values():
        typer.echo(f"{a.username}\t{a.role}\t{a.name}\t{a.credit_code or ''}")


@app.command("data-export")
def data_export(
    to: Annotated[str, typer.Option("--to", help="数据库地址（配合 --table）或 .parquet 路径（存储格式，供 Spark 使用）。")],
    data: DataOpt = SAMPLE_MANIFEST,
    tags: TagsOpt = DEFAULT_DICTIONARY,
    table: TableOpt = "enterprises",
) -> None:
    """把合并后的企业数据写到其他匹配方式读取的位置：数据库表或存储格式 Parquet。"""
    import sqlalchemy as sa

    from ..backends import sql_tables
    from ..data.datasets import write_storage_parquet

    with domain_errors():
        d = load_dictionary(tags)
        ds = _dataset(data, d)
        if "://" in to:
            from ..ledger.models import Base

            if table.lower() in {t.lower() for t in Base.metadata.tables} | {"alembic_version"}:
                raise EngineError(f"{table} 是兑现台账自己的表，企业数据不能写入（否则会覆盖台账或审计日志）；"
                                  "请用 --table 另取表名")
            try:
                engine = sa.create_engine(to)
                with engine.begin() as conn:
                    sql_tables.write_table(conn, table, ds.frame, d)
            except sa.exc.SQLAlchemyError as exc:
                raise EngineError(f"无法写入数据表 {table!r}：{type(exc).__name__}："
                                  f"{str(exc).splitlines()[0]}") from None
            where = f"table {table} in {engine.url.render_as_string(hide_password=True)}"
        else:
            Path(to).parent.mkdir(parents=True, exist_ok=True)
            write_storage_parquet(ds.frame, to)
            where = to
    console.print(f"已写出 {len(ds.frame)} 家企业（{len(ds.frame.columns)} 列）到 {where}", highlight=False)


def _summary(counts: pd.DataFrame, policies: list[ir.Policy], n: int, when: dt.date,
             load_s: float, match_s: float) -> None:
    table = Table(title=f"{n} 家企业 × {len(policies)} 项政策，评价日 {when}")
    for col in ("政策", "名称", "符合", "金额（元）", "待补充数据"):
        table.add_column(col, justify="right" if col not in ("政策", "名称") else "left")
    by = {(str(pol), str(st)): (int(n_), int(fen)) for pol, st, n_, fen in
          zip(counts["policy"], counts["status"], counts["n"], counts["amount_fen"], strict=True)}
    eligible = undetermined = total_fen = 0
    for p in policies:
        elig, fen = by.get((p.id, "eligible"), (0, 0))
        und, _ = by.get((p.id, "undetermined"), (0, 0))
        eligible, undetermined, total_fen = eligible + elig, undetermined + und, total_fen + fen
        table.add_row(p.id, p.title, str(elig), fmt_yuan(fen), str(und))
    console.print(table)
    console.print(
        f"共 {n * len(policies)} 对；符合 {eligible}，待补充数据 {undetermined}；"
        f"合计 {fmt_yuan(total_fen)} 元（未计每户限额、就高不重复和预算）；"
        f"加载 {load_s:.2f} 秒，匹配 {match_s:.2f} 秒",
        highlight=False,
    )


def write_results(result: pd.DataFrame, out: Path) -> None:
    from ..service.matching import yuan_column

    out.parent.mkdir(parents=True, exist_ok=True)
    frame = result.copy()
    at = int(frame.columns.get_loc("amount_fen"))  # type: ignore[arg-type]
    frame.insert(at, "amount_yuan", pd.Series(yuan_column(frame["amount_fen"].to_numpy(dtype=np.int64))
                                              .to_pylist(), index=frame.index, dtype=object))
    frame["status"] = frame["status"].astype(str)
    suffix = out.suffix.lower()
    if suffix in (".csv", ".xlsx"):
        from ..data.exporting import safe_frame

        frame = safe_frame(frame)  # names and texts come from department data: no live formulas
    if suffix == ".csv":
        frame.to_csv(out, index=False, encoding="utf-8")
    elif suffix == ".parquet":
        frame.to_parquet(out, index=False)
    elif suffix == ".xlsx":
        if len(frame) > 1_048_000:
            raise EngineError(f"{len(frame)} 行超出一张 Excel 工作表的容量，请写为 .csv 或 .parquet")
        frame.to_excel(out, index=False, engine="openpyxl")
    else:
        raise EngineError(f"{out}：不支持的输出格式 {suffix!r}（可用 .csv、.parquet 或 .xlsx）")


@app.command("data-report")
def data_report(data: DataOpt = SAMPLE_MANIFEST, tags: TagsOpt = DEFAULT_DICTIONARY,
                as_of: AsOfOpt = None) -> None:
    """数据质量：各标签覆盖率、各来源数据时效、拒收的行、冲突。"""
    from ..data.quality import quality_report

    with domain_errors():
        d = load_dictionary(tags)
        ds = _dataset(data, d)
        rep = quality_report(ds, d, _as_of(as_of, data))
    t = Table(title=f"各标签覆盖率（{len(ds.frame)} 家企业）")
    for c in ("标签", "名称", "来源部门", "有值", "覆盖率"):
        t.add_column(c)
    for r in rep.coverage.itertuples():
        t.add_row(str(r.tag), str(r.label), str(r.source), str(r.filled), f"{r.coverage:.1%}")
    console.print(t)
    s = Table(title="各数据文件")
    for c in ("文件", "来源部门", "截至", "距今天数", "行数", "拒收"):
        s.add_column(c)
    for r in rep.sources.itertuples():
        s.add_row(str(r.file), str(r.source), str(r.as_of), str(r.age_days), str(r.rows), str(r.rejected))
    console.print(s)
    for rj in ds.rejects:
        where = f"{rj.file}:{rj.row}" + (f" 列 {rj.column}（原值 {rj.raw!r}）" if rj.column else "")
        console.print(f"拒收 {where} {rj.credit_code}：{rj.reason}", highlight=False, markup=False)
    for r in rep.by_column.itertuples(index=False):
        console.print(f"列 {r.file}:{r.column}：按分归一 {r.normalised}，拒收 {r.rejected}，冲突 {r.conflicting}",
                      highlight=False, markup=False)
    console.print(f"拒收 {len(ds.rejects)} 处（行或单元格），按分归一 {len(ds.normalised)} 处，冲突 {len(ds.conflicts)} 处",
                  highlight=False)


@app.command("data-changes")
def data_changes(
    old: Annotated[Path, typer.Option("--old", help="上一批次所用的数据（数据清单或存储格式 Parquet）。")],
    new: Annotated[Path, typer.Option("--new", help="新交付后的数据（同上）。")],
    out: Annotated[Path, typer.Option("--out", "-o", help="写出的变更集（.parquet）。")],
    tags: TagsOpt = DEFAULT_DICTIONARY,
) -> None:
    """计算两次数据交付之间的变更集：记录有变化或新增的企业（变更后的完整记录）及变化的标签，
    供批次增量运行（batch run --changes）只重新匹配这些企业。"""
    from ..service.data import changes_between

    with domain_errors():
        d = load_dictionary(tags)
        if out.suffix.lower() != ".parquet":
            raise EngineError(f"{out}：变更集写为 .parquet")
        cs = changes_between(_dataset(old, d), _dataset(new, d), out)
    console.print(f"变更 {len(cs.frame)} 家企业（新增 {cs.added}，不再出现 {cs.removed}），变化的标签 {len(cs.tags)} 个："
                  + "、".join(sorted(cs.tags)[:20]) + ("…" if len(cs.tags) > 20 else "") + f"；已写出 {out}",
                  highlight=False, markup=False)


@app.command("data-upgrade")
def data_upgrade(
    actor: Annotated[str, typer.Option("--actor", help="操作人（记入审计日志）。")],
    data: DataOpt = SAMPLE_MANIFEST,
    tags: TagsOpt = DEFAULT_DICTIONARY,
    db: Annotated[str | None, typer.Option("--db", help="台账数据库地址（审计日志所在）。")] = None,
) -> None:
    """把按期间建模之前的数据清单升级：为只写“上年/前年”而未写年度的列（tax_paid、上年营业收入、tax_paid_prev 等）
    按各文件的截至日期写明年度；文件本身不改，旧清单另存备份，写入审计日志。"""
    from ..service import Actor, open_ledger
    from ..service.data import upgrade_manifest

    with domain_errors():
        changes = upgrade_manifest(open_ledger(db), Actor(actor, "official"), data, load_dictionary(tags))
    for line in changes:
        console.print(line, highlight=False, markup=False)
    console.print(f"已写明 {len(changes)} 列的年度" if changes else "清单中没有需要写明年度的列", highlight=False)


@app.command()
def generate(
    out: Annotated[Path, typer.Option("--out", "-o", help="写入的目录。")],
    n: Annotated[int, typer.Option("--n", help="企业数量。")] = 3000,
    seed: Annotated[int, typer.Option(help="随机种子。")] = 2025,
    as_of: Annotated[str, typer.Option("--as-of", help="基准日期。")] = "2026-06-30",
    parquet: Annotated[bool, typer.Option("--parquet", help="写出存储格式的 Parquet 分块（用于百万级以上）。")] = False,
    chunk: Annotated[int, typer.Option(help="每个 Parquet 分块的行数。")] = 250_000,
    dirty: Annotated[bool, typer.Option("--dirty", help="同一批企业写两份：clean/ 与 dirty/（浮点误差金额、只到门类的行业代码、部门提供的企业划型、1% 的行含坏单元格、GBK 与带 BOM 的 UTF-8 文件）。")] = False,
) -> None:
    """生成逼真的模拟企业数据：各部门 CSV 文件，或供性能测试用的 Parquet 分块。"""
    from ..data.datasets import write_storage_parquet
    from ..data.generate import chunks, write_dirty, write_sample

    when = dt.date.fromisoformat(as_of)
    if dirty:
        clean_m, dirty_m = write_dirty(out, n, seed, when)
        console.print(f"已写出 {n} 家企业的两份部门数据：干净版 {clean_m}，脏数据版 {dirty_m}"
                      "（对比：benchmarks/dirty_data.py）", highlight=False, markup=False)
        return
    if not parquet:
        m = write_sample(out, n, seed, when)
        console.print(f"已写出 {n} 家企业的部门数据文件；清单 {m}", highlight=False, markup=False)
        return
    out.mkdir(parents=True, exist_ok=True)
    with Progress(TextColumn("生成中"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=err, disable=not sys.stderr.isatty()) as bar:
        task = bar.add_task("gen", total=n)
        for i, df in enumerate(chunks(n, chunk, seed, when)):
            write_storage_parquet(df, out / f"part-{i:05d}.parquet")
            bar.advance(task, len(df))
    console.print(f"已写出 {n} 家企业到 {out}，每块 {chunk} 行", highlight=False, markup=False)


api_keys_app = typer.Typer(help="其他系统（企业服务门户、财政、预算）的接口密钥。", no_args_is_help=True)
app.add_typer(api_keys_app, name="api-keys")
KeyActor = Annotated[str, typer.Option("--actor", help="操作人（记入审计日志）。")]
KeyDb = Annotated[str | None, typer.Option("--db", help="台账数据库地址（默认：$MIANSHEN_DB）。")]


def _key_ledger(db: str | None):  # type: ignore[no-untyped-def]
    from ..service import open_ledger

    return open_ledger(db)


@api_keys_app.command("create")
def api_keys_create(
    name: Annotated[str, typer.Option(help="调用方系统，例如 财政涉企支付系统。")],
    role: Annotated[str, typer.Option(help="角色：enterprise（企业）、official（政策管理人员）、auditor（审计人员）、finance（财政）或 budget（预算）。")],
    actor: KeyActor, db: KeyDb = None,
    credit_code: Annotated[str | None, typer.Option(help="企业密钥：该企业的统一社会信用代码。")] = None,
) -> None:
    """创建密钥：只显示这一次，只保存其哈希。"""
    from ..service import Actor, keys

    with domain_errors():
        k = keys.create_key(_key_ledger(db), Actor(actor, "official"), name, role, credit_code)
    console.print(f"密钥 {k.id}（{k.name}，{k.role}）：{k.key}", highlight=False, soft_wrap=True)
    err.print("请立即妥善保存：密钥只显示这一次。", highlight=False)


@api_keys_app.command("rotate")
def api_keys_rotate(key_id: int, actor: KeyActor, db: KeyDb = None) -> None:
    """为密钥换新口令，旧口令立即失效。"""
    from ..service import Actor, keys

    with domain_errors():
        k = keys.rotate_key(_key_ledger(db), Actor(actor, "official"), key_id)
    console.print(f"密钥 {k.id}（{k.name}）已更换：{k.key}", highlight=False, soft_wrap=True)


@api_keys_app.command("revoke")
def api_keys_revoke(key_id: int, actor: KeyActor, db: KeyDb = None) -> None:
    """永久吊销密钥。"""
    from ..service import Actor, keys

    with domain_errors():
        keys.revoke_key(_key_ledger(db), Actor(actor, "official"), key_id)
    console.print(f"密钥 {key_id} 已吊销", highlight=False)


@api_keys_app.command("list")
def api_keys_list(actor: KeyActor, db: KeyDb = None) -> None:
    from ..service import Actor, keys

    with domain_errors():
        rows = keys.list_keys(_key_ledger(db), Actor(actor, "official"))
    for k in rows:
        state = f"已吊销 {k.revoked_at:%Y-%m-%d %H:%M}" if k.revoked_at else "有效"
        console.print(f"{k.id}\t{k.name}\t{k.role}\t{k.credit_code or ''}\t{state}", highlight=False)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="监听地址。")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="端口。")] = 8000,
    workers: Annotated[int, typer.Option(help="工作进程数。")] = 1,
) -> None:
    """以 uvicorn 提供 HTTP 接口（/api/v1，接口文档 /api/v1/openapi.json）。数据、政策与台账分别来自 MIANSHEN_DATA、MIANSHEN_POLICIES 与 MIANSHEN_DB。"""
    import uvicorn

    uvicorn.run("rules_engine.api.asgi:app", host=host, port=port, workers=workers, log_level="warning",
                server_header=False, proxy_headers=False)


def main() -> None:
    app()


def _register_ledger() -> None:
    from .contracts import register as register_contracts
    from .ledger import register

    register(app)
    register_contracts(app)


_register_ledger()


if __name__ == "__main__":
    main()
