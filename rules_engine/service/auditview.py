"""An audit entry as an auditor reads it: the subject, the state before and after, and the
details, in Chinese, with money in one format.

The stored entry is not changed (it is hash-chained, its JSON is what the chain verifies);
this only renders it. A detail the renderer does not know keeps its key, so nothing recorded
is ever hidden from the auditor."""

from __future__ import annotations

import json
import re
from typing import Any

from ..data.values import yuan_text
from ..ledger.contracts import STATE_ZH as MILESTONE_ZH
from ..ledger.lifecycle import STATUS_ZH
from ..ledger.mode import MODES
from .actors import ROLE_ZH

KEY_ZH = {
    "account": "收款账号摘要", "amount_fen": "金额", "bank_reference": "银行流水号", "answers": "申报内容", "as_of": "评估日期", "author": "起草人",
    "base": "基础数据", "before_fen": "调整前", "after_fen": "调整后", "bytes": "字节数", "checkpoint": "签名锚点",
    "clawback_fen": "追回金额", "clock_override": "模拟时钟日期", "count": "笔数", "created": "新增待公示笔数",
    "created_fen": "新增待公示金额", "credit_code": "统一社会信用代码", "data_hash": "数据哈希",
    "data_version": "数据版本", "decisions_digest": "决定摘要", "eligible": "符合条件的企业与政策对数",
    "dead_holder": "失效的持有者", "dead_pid": "失效的进程号", "draft": "草稿编号", "failed": "支付失败笔数",
    "file": "文件", "file_id": "文件编号", "files": "附件哈希", "holder": "持有者", "id": "编号", "ids": "兑现记录编号",
    "invited": "邀约笔数", "mode": "账本用途", "invited_fen": "邀约金额", "missing_account": "缺少银行账号", "name": "名称",
    "note": "修改说明", "notice": "公示期", "paid": "支付成功笔数", "payment_file": "支付文件",
    "payouts_digest": "兑现记录摘要", "invitations_digest": "邀约摘要", "lines_digest": "支付明细摘要", "name_digest": "收款单位名称摘要", "period": "期间", "pid": "进程号", "policies": "政策", "policy": "政策",
    "rating": "评价", "reason": "理由", "rejected": "被拒绝行数", "replaced_by": "被替代为", "replaces": "替代版本",
    "result_sha256": "回单哈希", "reviewer": "复核人", "role": "角色", "rows": "行数", "sha256": "内容哈希",
    "tag": "数据项", "total_fen": "合计金额", "trigger": "触发原因", "unchanged": "未变化笔数", "value": "数值",
    "why": "原因", "signature": "签名", "party": "签署方", "key_id": "签署密钥编号", "public_key": "公钥",
    "milestones": "履约节点", "version": "版本", "from": "原状态", "to": "新状态", "missing": "缺少的数据",
    "payout": "兑现记录", "paid_fen": "已拨付", "claimed_before_fen": "此前已追回", "kind": "方式", "fen": "金额",
    "reference": "凭证", "settled_fen": "已结算", "requested_by": "申请人", "remaining_fen": "待追回",
    "offset_claim": "抵扣的追回记录",
    "incremental_base": "变更前数据摘要", "incremental_new": "变更后数据摘要", "changed_enterprises": "变更的企业数",
    "policies_evaluated": "重新匹配的政策数",
}
SUBJECT_ZH = [
    (re.compile(r"^batch (\d+)$"), "批次 {0}"),
    (re.compile(r"^(\d+) payouts$"), "兑现记录 {0} 笔"),
    (re.compile(r"^(\d+) invitations$"), "邀约 {0} 项"),
    (re.compile(r"^objection (\d+)$"), "异议 {0}"),
    (re.compile(r"^key (\d+)$"), "接口密钥 {0}"),
    (re.compile(r"^batch_lock$"), "批次锁"),
    (re.compile(r"^api$"), "接口"),
    (re.compile(r"^ledger$"), "账本"),
    (re.compile(r"^(.+)@(\d+)$"), "合同 {0} 第 {1} 版"),
    (re.compile(r"^([A-Za-z0-9_-]+)#([a-z0-9_]+)$"), "合同 {0} 履约节点 {1}"),
    (re.compile(r"^claim:(\d+)$"), "追回记录 {0}"),
    (re.compile(r"^key:(\d+)$"), "签署密钥 {0}"),
]
SHOWN_IDS = 20
SETTLE_ZH = {"repaid": "企业退回", "offset": "抵扣后续兑现", "written_off": "核销"}
PARTY_ZH = {"government": "甲方（政府）", "enterprise": "乙方（企业）"}
TRIGGER_ZH = {"confirm": "企业确认享受（即申即享）", "apply": "申报审核通过"}  # else a tag the worker saw change


def subject_zh(subject: str) -> str:
    for pattern, zh in SUBJECT_ZH:
        if m := pattern.match(subject):
            return zh.format(*m.groups())
    return subject


def _value(key: str, v: Any, titles: dict[str, str] | None = None) -> str:
    if v is None or v == "" or v == [] or v == {}:
        return "（无）"
    if key.endswith("_fen") and isinstance(v, int) and not isinstance(v, bool):
        return yuan_text(v)
    if key == "trigger" and isinstance(v, str):
        return TRIGGER_ZH.get(v, v)
    if key == "policy" and isinstance(v, str) and (m := re.fullmatch(r"(.+)@(\d+)", v)):
        return f"{(titles or {}).get(m[1], m[1])}（第 {m[2]} 版）"
    if key == "policy" and isinstance(v, str) and titles and v in titles:
        return titles[v]
    if key == "mode" and isinstance(v, str):
        return MODES.get(v, v)
    if key == "role" and isinstance(v, str):
        return ROLE_ZH.get(v, v)
    if key in ("from", "to") and isinstance(v, str):
        return STATUS_ZH.get(v) or MILESTONE_ZH.get(v, v)
    if key == "kind" and isinstance(v, str):
        return SETTLE_ZH.get(v, v)
    if key == "party" and isinstance(v, str):
        return PARTY_ZH.get(v, v)
    if key in ("sha256", "signature", "public_key", "data_hash", "payouts_digest", "invitations_digest", "lines_digest", "name_digest", "decisions_digest",
               "result_sha256", "account", "incremental_base", "incremental_new") \
            and isinstance(v, str):
        return v[:16] + "…" if len(v) > 16 else v
    if key == "ids" and isinstance(v, list):
        head = "、".join(str(i) for i in v[:SHOWN_IDS])
        return f"共 {len(v)} 笔：{head}" + ("…" if len(v) > SHOWN_IDS else "")
    if key == "notice" and isinstance(v, list) and len(v) == 2:
        return f"{v[0]} 至 {v[1]}"
    if key == "checkpoint" and isinstance(v, list) and len(v) == 2:
        return f"第 {v[0]} 条"
    if key == "policies" and isinstance(v, dict):
        return f"{len(v)} 项：" + "、".join(sorted(str(k) for k in v))
    if key == "files" and isinstance(v, list | dict):
        return f"{len(v)} 个"
    if isinstance(v, bool):
        return "是" if v else "否"
    if isinstance(v, dict):
        return "；".join(f"{KEY_ZH.get(str(k), str(k))}：{_value(str(k), x)}" for k, x in v.items())
    if isinstance(v, list):
        return "、".join(_value(key, x) for x in v)
    return str(v)


def describe(action: str, subject: str, details: str,
             titles: dict[str, str] | None = None) -> tuple[str, str, str, str]:
    """(对象, 变更前, 变更后, 详情) of one entry. Before/after: the payout status of a transition,
    the indicator of a budget change, the version a policy publication replaced."""
    try:
        d = json.loads(details) if details else {}
    except ValueError:
        return subject_zh(subject), "", "", details  # verification reports the damage; show what is there
    if not isinstance(d, dict):
        return subject_zh(subject), "", "", str(d)
    before = after = ""
    if "from" in d and "to" in d:
        before, after = _value("from", d.pop("from")), _value("to", d.pop("to"))
    elif "before_fen" in d and "after_fen" in d:
        before, after = _value("before_fen", d.pop("before_fen")), _value("after_fen", d.pop("after_fen"))
    elif action == "policy_published" and "replaces" in d:
        replaced = d.pop("replaces")
        before = f"第 {replaced} 版" if replaced else "（新政策）"
        after = m.group(1) if (m := re.search(r"v(\d+)$", subject)) else ""
        after = f"第 {after} 版" if after else ""
    rest = "；".join(f"{KEY_ZH.get(k, k)}：{_value(k, v, titles)}" for k, v in d.items() if v not in (None, "", [], {}))
    return subject_zh(subject), before, after, rest
