"""CLI for 合同履约: `mianshen contracts draft|keygen|sign|check|list|show|export|verify|claims|...`."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from ..data.datasets import SAMPLE_MANIFEST
from ..data.tags import load_dictionary
from ..data.values import fmt_yuan
from ..errors import Invalid, os_reason
from ..service import contracts as svc
from ..service.actors import Actor
from .common import DEFAULT_POLICIES, _dataset, _library, domain_errors
from .ledger import ActorOpt, DbOpt, _sf, console, err

contracts_app = typer.Typer(help="合同履约：起草、双方在线签署、按数据核查履约节点、分期拨付、未达成追回。",
                            no_args_is_help=True)
RoleOpt = Annotated[str, typer.Option("--role", help="签署方：official（政府）或 enterprise（企业）。")]
CodeOpt = Annotated[str | None, typer.Option("--credit-code", help="企业签署方的统一社会信用代码。")]
VersionOpt = Annotated[int | None, typer.Option("--version", help="合同版本（默认最新一版）。")]


def _who(name: str, role: str = "official", code: str | None = None) -> Actor:
    with domain_errors():
        if role not in ("official", "enterprise"):
            raise Invalid(f"--role 应为 official 或 enterprise，而不是 {role!r}")
        return Actor(name, role, code.strip().upper() if code else None)


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        err.print(f"错误：不能读取 {path}：{os_reason(exc) if isinstance(exc, OSError) else '不是 UTF-8 文本'}",
                  markup=False)
        raise typer.Exit(1) from None


@contracts_app.command("templates")
def contracts_templates() -> None:
    """列出合同模板及其需填写的字段。"""
    from ..library.contracts import template_fields

    for name, text in svc.templates().items():
        console.print(f"{name}：{'、'.join(template_fields(text))}", markup=False)


@contracts_app.command("from-template")
def contracts_from_template(
    name: Annotated[str, typer.Argument(help="模板名（见 contracts templates）。")],
    out: Annotated[Path, typer.Option("-o", "--out", help="写出的合同文件。")],
    field: Annotated[list[str], typer.Option("--field", help="字段=值，可重复，如 --field number=HT-2026-0002。")],
) -> None:
    """按模板起草合同文件（校验后写出，再用 contracts draft 登记）。"""
    fields = {}
    for item in field:
        key, sep, value = item.partition("=")
        if not sep:
            err.print(f"错误：--field 应为 字段=值，而不是 {item!r}", markup=False)
            raise typer.Exit(2)
        fields[key.strip()] = value
    with domain_errors():
        text = svc.from_template(name, fields)
        from ..library.contracts import load_contract_text

        load_contract_text(text, load_dictionary(), str(out))
    out.write_text(text, encoding="utf-8")
    console.print(f"已写入 {out}", markup=False)


@contracts_app.command("draft")
def contracts_draft(path: Path, actor: ActorOpt, db: DbOpt = None) -> None:
    """登记一份合同（或补充协议：同一编号的下一版），等待双方签署；台账不存在时建立。"""
    text = _read(path)
    with domain_errors():
        row = svc.draft(_sf(db, create=True), _who(actor), text, load_dictionary(), path.name)
    console.print(f"已登记合同 {row.number} 第 {row.version} 版（{row.title}），待双方签署；SHA-256 {row.sha256}",
                  markup=False)


@contracts_app.command("keygen")
def contracts_keygen(actor: ActorOpt, out: Annotated[Path, typer.Option("-o", "--out", help="私钥文件（只写出这一次）。")],
                     role: RoleOpt = "official", credit_code: CodeOpt = None, db: DbOpt = None) -> None:
    """生成签署密钥：公钥登记在台账，私钥只写出一次（权限 0600），平台不保存。"""
    if out.exists():
        err.print(f"错误：{out} 已存在，不覆盖（请换一个文件名）", markup=False)
        raise typer.Exit(1)
    with domain_errors():
        kid, pem = svc.new_signing_key(_sf(db), _who(actor, role, credit_code))
    out.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
    console.print(f"签署密钥 {kid} 已生成，私钥写入 {out}（请妥善保管；此前的密钥已停用）", markup=False)


@contracts_app.command("sign")
def contracts_sign(number: str, actor: ActorOpt, key: Annotated[Path, typer.Option("--key", help="签署私钥文件。")],
                   role: RoleOpt = "official", credit_code: CodeOpt = None, version: VersionOpt = None,
                   db: DbOpt = None) -> None:
    """用本人的私钥签署合同文本的哈希（私钥只在本机使用）。"""
    try:
        pem = key.read_bytes()
    except OSError as exc:
        err.print(f"错误：不能读取 {key}：{os_reason(exc)}", markup=False)
        raise typer.Exit(1) from None
    who = _who(actor, role, credit_code)
    sf = _sf(db)
    with domain_errors():
        row = svc.contract(sf, who, number, version)
        row = svc.sign(sf, who, row.number, row.version, svc.signature_of(pem, row.number, row.version, row.sha256))
    console.print(f"已签署合同 {row.number} 第 {row.version} 版；状态：{svc.STATUS_ZH[row.status]}", markup=False)


@contracts_app.command("void")
def contracts_void(number: str, version: int, actor: ActorOpt,
                   reason: Annotated[str, typer.Option("--reason", help="作废原因。")], db: DbOpt = None) -> None:
    """作废尚未签署完毕的一版。"""
    with domain_errors():
        svc.void(_sf(db), _who(actor), number, version, reason)
    console.print(f"已作废合同 {number} 第 {version} 版", markup=False)


@contracts_app.command("check")
def contracts_check(
    data: Annotated[Path, typer.Option("--data", help="企业数据（部门文件清单）。")] = SAMPLE_MANIFEST,
    credit_code: Annotated[list[str] | None, typer.Option("--credit-code", help="只核查这些企业（可重复）。")] = None,
    policies: Annotated[Path, typer.Option("--policies", help="政策库（合同约定就高不重复时参与比较）。")] = DEFAULT_POLICIES,
    db: DbOpt = None,
) -> None:
    """按当前数据核查每份生效合同的履约节点：达成的生成兑现，逾期未达成的按约定追回。"""
    d = load_dictionary()
    with domain_errors():
        lib = _library(policies, d)
        rows = svc.check(_sf(db), Actor("命令行", "system"), _dataset(data, d), d, credit_code or None,
                         policies=lib.policies)
    console.print(f"履约核查：{len(rows)} 个节点", markup=False)
    for x in rows:  # one line each: an operator greps and copies these, a table cuts them
        parts = [f"{x.number}@{x.version} {x.name}（截止 {x.deadline}，含宽限期）：{x.state_zh}"]
        if x.amount_fen:
            parts.append(f"金额 {fmt_yuan(x.amount_fen)} 元")
        if x.payout:
            parts.append(f"兑现记录 {x.payout}")
        if x.claim_fen:
            parts.append(f"追回 {fmt_yuan(x.claim_fen)} 元")
        if x.unpaid:
            parts.append(f"未拨付：{x.unpaid}")
        if missing := x.explanation.get("missing"):
            parts.append("缺少 " + "、".join(_labels(list(missing), d)))
        console.print("，".join(parts), markup=False)


def _labels(tags: list[str], d: object) -> list[str]:
    from ..data.tags import TagDictionary

    assert isinstance(d, TagDictionary)
    return [d[t].label if t in d else t for t in tags]


@contracts_app.command("list")
def contracts_list(credit_code: CodeOpt = None, db: DbOpt = None) -> None:
    """列出合同（每个编号的最新一版）。"""
    with domain_errors():
        rows = svc.contracts(_sf(db), Actor("命令行", "official"), credit_code)
    t = Table(title=f"合同（{len(rows)} 份）")
    for head in ("编号", "版本", "企业", "名称", "状态"):
        t.add_column(head, overflow="fold")
    for r in rows:
        t.add_row(r.number, str(r.version), r.credit_code, r.title, svc.STATUS_ZH.get(r.status, r.status))
    console.print(t)


@contracts_app.command("show")
def contracts_show(number: str, version: VersionOpt = None, db: DbOpt = None) -> None:
    """合同的中文文本与各履约节点的状态。"""
    from ..library.contracts import render_zh

    d = load_dictionary()
    sf = _sf(db)
    me = Actor("命令行", "official")
    with domain_errors():
        row = svc.contract(sf, me, number, version)
        console.print(render_zh(svc.loaded(row, d), d), markup=False)
        console.print(f"状态：{svc.STATUS_ZH.get(row.status, row.status)}", markup=False)
        for x in svc.states(sf, me, number, d):
            console.print(f"  {x.name}：{x.state_zh}" + (f"，兑现 {x.payout}" if x.payout else ""), markup=False)


@contracts_app.command("export")
def contracts_export(number: str, out: Annotated[Path, typer.Option("-o", "--out", help="存证文件（JSON）。")],
                     version: VersionOpt = None, db: DbOpt = None) -> None:
    """导出存证：合同文本、双方签名与公钥、审计日志中的记录，供任何人离线核验。"""
    with domain_errors():
        ev = svc.evidence(_sf(db), Actor("命令行", "auditor"), number, version)
    out.write_text(json.dumps(ev, ensure_ascii=False, indent=1), encoding="utf-8")
    console.print(f"已写入 {out}", markup=False)


@contracts_app.command("verify")
def contracts_verify(
    number: Annotated[str | None, typer.Argument(help="合同编号（核验台账中的合同）。")] = None,
    evidence: Annotated[Path | None, typer.Option("--evidence", help="contracts export 导出的存证文件（离线核验）。")] = None,
    version: VersionOpt = None, db: DbOpt = None,
) -> None:
    """核验合同：文本哈希与双方签名（台账中的，或离线的存证文件）。"""
    if (number is None) == (evidence is None):
        err.print("错误：请给出合同编号，或 --evidence 存证文件（二者之一）", markup=False)
        raise typer.Exit(2)
    with domain_errors():
        if evidence is not None:
            try:
                ev = json.loads(_read(evidence))
                v = svc.verify_signed(str(ev["text"]), str(ev["number"]), int(ev["version"]), list(ev["signatures"]))
            except (ValueError, KeyError, TypeError):
                raise Invalid(f"{evidence} 不是 contracts export 导出的存证文件") from None
        else:
            assert number is not None
            v = svc.verify(_sf(db), Actor("命令行", "auditor"), number, version)
    for s in v.signatures:
        console.print(f"{svc.PARTIES.get(str(s['party']), s['party'])}：{s['signer']}（公钥 {str(s['public_key'])[:16]}…）",
                      markup=False)
    if v.ok:
        console.print(f"核验通过：合同 {v.number} 第 {v.version} 版，SHA-256 {v.sha256}，双方签名有效", markup=False)
        return
    for p in v.problems:
        err.print(f"问题：{p}", markup=False)
    raise typer.Exit(1)


@contracts_app.command("claims")
def contracts_claims(credit_code: CodeOpt = None, db: DbOpt = None) -> None:
    """追回记录及其结算情况。"""
    with domain_errors():
        rows = svc.claims(_sf(db), Actor("命令行", "official"), credit_code)
    t = Table(title=f"追回记录（{len(rows)} 笔）")
    for head in ("编号", "合同", "节点", "企业", "应追回（元）", "已结算（元）", "状态", "原因"):
        t.add_column(head, overflow="fold")
    for c in rows:
        t.add_row(str(c.id), c.number, c.milestone, c.credit_code, fmt_yuan(c.amount_fen), fmt_yuan(c.settled_fen),
                  svc.CLAIM_ZH.get(c.status, c.status), c.reason)
    console.print(t)


@contracts_app.command("repaid")
def contracts_repaid(claim: int, fen: Annotated[int, typer.Option("--fen", help="退回金额（分）。")],
                     bank_reference: Annotated[str, typer.Option("--bank-reference", help="退回款项的银行流水号。")],
                     actor: ActorOpt, db: DbOpt = None) -> None:
    """登记企业退回的款项。"""
    with domain_errors():
        svc.repaid(_sf(db), _who(actor), claim, fen, bank_reference)
    console.print(f"已登记追回记录 {claim} 的退回款 {fmt_yuan(fen)} 元", markup=False)


@contracts_app.command("offset")
def contracts_offset(claim: int, payout: str, actor: ActorOpt,
                     reason: Annotated[str, typer.Option("--reason", help="理由。")] = "抵扣追回款", db: DbOpt = None) -> None:
    """以同一企业一笔待公示或公示中的兑现整笔抵扣追回款。"""
    with domain_errors():
        svc.offset(_sf(db), _who(actor), claim, payout, reason)
    console.print(f"已以 {payout} 抵扣追回记录 {claim}", markup=False)


@contracts_app.command("write-off")
def contracts_write_off(claim: int, actor: ActorOpt,
                        reason: Annotated[str | None, typer.Option("--reason", help="申请核销的原因。")] = None,
                        approve: Annotated[bool, typer.Option("--approve", help="复核通过另一人的核销申请。")] = False,
                        refuse: Annotated[bool, typer.Option("--refuse", help="复核不同意核销。")] = False,
                        db: DbOpt = None) -> None:
    """核销追回款：一人申请（写明原因），另一人复核。"""
    with domain_errors():
        if approve or refuse:
            svc.approve_write_off(_sf(db), _who(actor), claim, approve=approve)
            console.print(f"追回记录 {claim}：{'已核销' if approve else '不同意核销，恢复待追回'}", markup=False)
        else:
            svc.request_write_off(_sf(db), _who(actor), claim, reason or "")
            console.print(f"追回记录 {claim} 已申请核销，待另一名工作人员复核", markup=False)


def register(app: typer.Typer) -> None:
    app.add_typer(contracts_app, name="contracts")
