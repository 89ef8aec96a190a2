"""Every CLI command has help and works end to end on the bundled sample."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from rules_engine.cli import app
from rules_engine.data.datasets import SAMPLE_MANIFEST, load_dataset
from rules_engine.data.tags import load_dictionary

runner = CliRunner()
COMMANDS = ["validate", "test", "lint", "show", "explain", "match", "data-report", "generate",
            "batch run", "batch list", "batch unlock", "batch demo", "payouts list", "payouts publish", "payouts approve",
            "payouts withdraw", "payouts retry", "payouts revoke", "payouts notice", "payment export",
            "payment import", "outbox dispatch", "audit verify", "worker run", "events add", "events dead-letters"]


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command: str) -> None:
    result = runner.invoke(app, [*command.split(), "--help"])
    assert result.exit_code == 0 and "用法：" in result.output


def test_module_entry_point() -> None:
    out = subprocess.run([sys.executable, "-m", "rules_engine", "--help"], capture_output=True, text=True, check=True)
    assert all(c.split()[0] in out.stdout for c in COMMANDS)


def test_validate_reports_bad_files_and_fails(tmp_path: Path) -> None:
    good = Path("policies/innovation/faming-zhuanli.yaml").read_text(encoding="utf-8")
    (tmp_path / "ok.yaml").write_text(good, encoding="utf-8")
    (tmp_path / "bad.yaml").write_text(good.replace("invention_patents >= 1", "invention_patent >= 1"),
                                       encoding="utf-8")
    result = runner.invoke(app, ["validate", "--policies", str(tmp_path)])
    assert result.exit_code == 1
    assert "bad.yaml:" in result.output and "未知标签 'invention_patent'" in result.output
    assert "已加载 1 项政策（2 个文件），问题 1 个" in result.output


def test_policy_tests_pass_and_a_wrong_expectation_fails(tmp_path: Path) -> None:
    assert runner.invoke(app, ["test", "--policy", "wengang-fanhuan"]).exit_code == 0
    text = Path("policies/innovation/faming-zhuanli.yaml").read_text(encoding="utf-8")
    (tmp_path / "p.yaml").write_text(text.replace("amount: 15000", "amount: 15001"), encoding="utf-8")
    result = runner.invoke(app, ["test", "--policies", str(tmp_path)])
    assert result.exit_code == 1
    assert "金额：预期 15,001.00 元，实为 15,000.00 元" in result.output


def test_lint_and_show() -> None:
    result = runner.invoke(app, ["lint", "--today", "2026-06-30"])
    assert result.exit_code == 0 and "发现 0 个问题" in result.output
    result = runner.invoke(app, ["show", "wengang-fanhuan"])
    assert result.exit_code == 0
    assert "上年度足额缴纳失业保险费12个月以上" in result.output
    assert "上年失业保险缴费额的60%" in result.output


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".xlsx"])
def test_match_writes_results(tmp_path: Path, suffix: str) -> None:
    out = tmp_path / f"results{suffix}"
    result = runner.invoke(app, ["match", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "3000 家企业 × 31 项政策" in result.output
    df = {".csv": pd.read_csv, ".parquet": pd.read_parquet, ".xlsx": pd.read_excel}[suffix](out)
    assert set(df["status"]) == {"eligible", "undetermined"}
    row = df[df["status"] == "eligible"].iloc[0]
    assert int(row["amount_fen"]) == round(float(row["amount_yuan"]) * 100)


def test_explain_one_enterprise() -> None:
    d = load_dictionary()
    ds = load_dataset(SAMPLE_MANIFEST, d)
    code = ds.frame["credit_code"].iloc[0]
    result = runner.invoke(app, ["explain", code])
    assert result.exit_code == 0, result.output
    assert "评估日期 2026-06-30" in result.output and "符合" in result.output
    assert "[region_scope]" in result.output  # condition ids survive the terminal renderer
    result = runner.invoke(app, ["explain", "91350100M000100Y43"])
    assert result.exit_code == 1 and "中没有企业" in result.output


def test_data_report_shows_rejects() -> None:
    result = runner.invoke(app, ["data-report"])
    assert result.exit_code == 0
    assert "tax.csv" in result.output and "拒收 3 处" in result.output


def test_generate_department_files_and_parquet(tmp_path: Path) -> None:
    result = runner.invoke(app, ["generate", "--out", str(tmp_path / "s"), "--n", "200"])
    assert result.exit_code == 0
    ds = load_dataset(tmp_path / "s" / "manifest.yaml", load_dictionary())
    assert len(ds.frame) == 200
    result = runner.invoke(app, ["generate", "--out", str(tmp_path / "p"), "--n", "500", "--parquet", "--chunk", "200"])
    assert result.exit_code == 0
    assert len(list((tmp_path / "p").glob("part-*.parquet"))) == 3
    result = runner.invoke(app, ["match", "--data", str(tmp_path / "p"), "--as-of", "2026-06-30"])
    assert result.exit_code == 0, result.output
    assert "500 家企业 × 31 项政策" in result.output


def test_match_a_single_file_in_natural_units(tmp_path: Path) -> None:
    from rules_engine.data import creditcode

    a, b = creditcode.make("340104", 11), creditcode.make("340104", 12)
    (tmp_path / "e.csv").write_text(
        f"统一社会信用代码,注册地行政区划,有效发明专利数\n{a},340104,3\n{b},340104,0\n", encoding="utf-8")
    out = tmp_path / "r.csv"
    result = runner.invoke(app, ["match", "--data", str(tmp_path / "e.csv"), "--as-of", "2026-06-30",
                                 "--all", "--out", str(out)])
    assert result.exit_code == 0, result.output
    df = pd.read_csv(out, dtype={"amount_yuan": str})
    row = df[(df["policy"] == "faming-zhuanli") & (df["credit_code"] == a)].iloc[0]
    assert (row["status"], row["amount_yuan"]) == ("eligible", "15000.00")
    row = df[(df["policy"] == "faming-zhuanli") & (df["credit_code"] == b)].iloc[0]
    assert (row["status"], row["failed"]) == ("not_eligible", "patents")


def test_ledger_commands_end_to_end(tmp_path: Path) -> None:
    db = ["--db", f"sqlite:///{tmp_path / 'l.db'}"]
    r = runner.invoke(app, ["batch", "run", "--actor", "张三", *db])
    assert r.exit_code == 0, r.output
    assert "新增待公示" in r.output
    # the notice cannot start in the past by the server's clock; MIANSHEN_CLOCK is the explicit test setting
    r = runner.invoke(app, ["payouts", "publish", "--actor", "李四", "--start", "2026-07-01", *db])
    assert r.exit_code == 1 and "早于今天" in r.output
    on = {"MIANSHEN_CLOCK": "2026-07-01"}
    assert runner.invoke(app, ["payouts", "publish", "--actor", "李四", *db], env=on).exit_code == 0
    r = runner.invoke(app, ["payouts", "notice", str(tmp_path / "n.csv"), "--actor", "李四", *db])
    assert r.exit_code == 0 and (tmp_path / "n.csv").exists()
    r = runner.invoke(app, ["payouts", "approve", "--actor", "王五", "--today", "2026-07-08", *db])
    assert r.exit_code == 2  # no option moves the date approval is judged by
    r = runner.invoke(app, ["payouts", "approve", "--actor", "王五", *db], env={"MIANSHEN_CLOCK": "2026-07-07"})
    assert r.exit_code == 0 and r.output.startswith("0 笔审批通过"), r.output  # still on notice
    r = runner.invoke(app, ["payouts", "approve", "--actor", "王五", *db], env={"MIANSHEN_CLOCK": "2026-07-08"})
    assert "笔审批通过" in r.output and not r.output.startswith("0 "), r.output
    r = runner.invoke(app, ["payment", "export", str(tmp_path / "p.xlsx"), "--actor", "财务", *db])
    assert r.exit_code == 0 and "支付文件 PF00000001" in r.output
    r = runner.invoke(app, ["outbox", "dispatch", "--sender", f"file:{tmp_path / 'n.jsonl'}", *db])
    assert r.exit_code == 0 and "待发送 0" in r.output
    r = runner.invoke(app, ["payouts", "withdraw", "MS0000000001", "--actor", "李四", "--reason", "异议", *db])
    assert r.exit_code == 1 and "当前为「已审批」，只能转为支付失败、已支付，不能转为「已撤回」" in r.output
    r = runner.invoke(app, ["audit", "verify", *db])
    assert r.exit_code == 0 and "发现问题 0 处" in r.output, r.output
    r = runner.invoke(app, ["payouts", "list", "--status", "approved", *db])
    assert r.exit_code == 0 and "合计" in r.output
    r = runner.invoke(app, ["payouts", "list", "--by", "region", *db], env={"COLUMNS": "120"})
    assert r.exit_code == 0 and "340104" in r.output


def _commands() -> list[list[str]]:
    import typer.main

    root = typer.main.get_command(app)
    out: list[list[str]] = []

    def walk(cmd, path: list[str], ctx) -> None:  # type: ignore[no-untyped-def]
        out.append(path)
        if hasattr(cmd, "list_commands"):
            for name in cmd.list_commands(ctx):
                sub = cmd.get_command(ctx, name)
                walk(sub, [*path, name], type(ctx)(sub, parent=ctx, info_name=name))

    walk(root, [], type(root.make_context("mianshen", [], resilient_parsing=True))(root, info_name="mianshen"))
    return out


# Three English words in a row is a sentence, not an identifier (a command, a role or an option value)
ENGLISH = re.compile(r"[A-Za-z]+(?:[ ,]+[A-Za-z]+){2,}")


def test_every_command_speaks_chinese() -> None:
    """Was: every --help was English ("Usage:", "Options", "Show this message and exit.", "Policy file
    or directory.", "Match every enterprise against every active policy..."), and so were Typer's
    usage errors ("Missing option '--actor'.")."""
    commands = _commands()
    assert len(commands) > 50
    english = {}
    for path in commands:
        r = CliRunner().invoke(app, [*path, "--help"], terminal_width=200)
        assert r.exit_code == 0, (path, r.output)
        body = "\n".join(line for line in r.output.splitlines() if "用法：" not in line)
        assert "选项" in body and "显示本帮助并退出" in body, (path, r.output)
        if found := ENGLISH.findall(body):
            english[" ".join(path)] = found
    assert not english, english
    for argv, zh in ((["payouts", "publish"], "缺少选项 --actor"), (["payouts", "list", "--bogus"], "没有选项 --bogus"),
                     (["nope"], "没有命令 nope"), (["generate", "--out", "x", "--n", "abc"], "--n 的值无效：应为整数"),
                     (["payouts", "list", "--status"], "选项 --status 需要一个值"),
                     (["payouts", "explain"], "缺少参数")):
        r = CliRunner().invoke(app, argv, terminal_width=200)
        assert r.exit_code == 2 and zh in r.output and "Usage" not in r.output, (argv, r.output)


def test_a_mistyped_policy_directory_is_an_error(tmp_path: Path) -> None:
    """Was: `mianshen validate --policies /no/such/dir` said 已加载 0 项政策 and exited 0."""
    r = CliRunner().invoke(app, ["validate", "--policies", str(tmp_path / "no-such-dir")])
    assert r.exit_code == 1 and "政策文件或目录不存在" in r.output, r.output


def test_the_readme_figures_are_the_librarys() -> None:
    """Was (#37 item 19): the README said 31 policies / 114 cases while the CLI loaded 29 and 116."""
    import re

    from rules_engine.data.tags import load_dictionary
    from rules_engine.library.loader import load_library

    d = load_dictionary()
    lib = load_library(Path("policies"), d)
    readme = Path("README.md").read_text(encoding="utf-8")
    m = re.search(r"policy library: (\d+) policies, (\d+) test cases", readme)
    assert m and (int(m[1]), int(m[2])) == (len(lib.policies), sum(len(p.cases) for p in lib.policies))
    m = re.search(r"tag dictionary \((\d+) tags, (\d+) of them periodic", readme)
    assert m and (int(m[1]), int(m[2])) == (len(list(d)), sum(1 for t in d if t.periodic))


def test_a_command_that_reads_a_ledger_refuses_one_that_does_not_exist(tmp_path: Path) -> None:
    """Was (#37 item 10): `mianshen audit verify --db <a mistyped path>` created an empty ledger and
    reported 「发现问题 0 处」, exit 0."""
    db = f"sqlite:///{tmp_path / 'typo' / 'ledger.db'}"
    for args in (["audit", "verify"], ["payouts", "list"], ["batch", "list"], ["payouts", "approve", "--actor", "x"],
                 ["events", "dead-letters"]):
        result = runner.invoke(app, [*args, "--db", db])
        assert result.exit_code == 1 and "没有台账数据库" in result.output, (args, result.output)
    assert not (tmp_path / "typo").exists()


def test_an_empty_notice_list_is_refused_not_written(tmp_path: Path) -> None:
    """Was (#37 item 11): `payouts notice` with 0 rows said 「已写入」."""
    db = f"sqlite:///{tmp_path / 'ledger.db'}"
    assert runner.invoke(app, ["batch", "run", "--actor", "a", "--db", db, "--policies", "policies/trade"]).exit_code == 0
    result = runner.invoke(app, ["payouts", "notice", str(tmp_path / "new" / "g.xlsx"), "--actor", "b", "--db", db])
    assert result.exit_code == 1 and "不生成空的公示名单" in result.output and "已写入" not in result.output
    assert not (tmp_path / "new").exists()


def test_the_command_line_speaks_chinese_where_it_spoke_english(tmp_path: Path) -> None:
    """Was (#37 item 14): 「Got unexpected extra argument(s)」, 「[Errno 2] No such file or
    directory」 and 「active」 in `show`."""
    result = runner.invoke(app, ["validate", "extra"])
    assert result.exit_code != 0 and "多余的参数：extra" in result.output and "unexpected" not in result.output
    result = runner.invoke(app, ["show", "wengang-fanhuan"])
    assert "第 2 版，免申即享，有效" in result.output and "active" not in result.output
    result = runner.invoke(app, ["match", "--data", str(tmp_path / "nope" / "manifest.yaml")])
    assert result.exit_code == 1 and "无法读取清单（文件不存在）" in result.output and "Errno" not in result.output
    result = runner.invoke(app, ["payment", "import", str(tmp_path / "nope.csv"), "--actor", "财务",
                                 "--db", f"sqlite:///{tmp_path / 'l.db'}"])
    assert result.exit_code == 1 and "Errno" not in result.output and "No such file" not in result.output


def test_the_demo_ledger_opens_with_the_notice_ended_so_approval_is_open_today(tmp_path: Path) -> None:
    """Was (#37 item 12): the demo opened on an empty ledger and approval needed a restart under a
    changed clock. `batch demo` makes a new 演示 ledger whose batch and 公示 are dated back."""
    import datetime as dt

    from rules_engine.ledger.lifecycle import notice_period
    from rules_engine.ledger.mode import mode
    from rules_engine.service import Actor, approval_schedule, approve_due, open_ledger
    from rules_engine.service.demo import notice_start_before

    for today in (dt.date(2026, 12, 5), dt.date(2026, 10, 8), dt.date(2027, 2, 18), dt.date(2026, 12, 7)):
        day = notice_start_before(today)
        assert notice_period(day)[1] < today <= notice_period(day + dt.timedelta(days=1))[1]

    url = f"sqlite:///{tmp_path / 'demo' / 'ledger.db'}"
    r = runner.invoke(app, ["batch", "demo", "--db", url])
    assert r.exit_code == 0, r.output
    assert "今天即可审批" in r.output
    sf = open_ledger(url)  # the real clock: no MIANSHEN_CLOCK in this process
    with sf() as s:
        assert mode(s) == "demo"
    schedule = approval_schedule(sf, Actor("复核", "official"))
    assert schedule.due > 1000 and not schedule.waiting
    assert approve_due(sf, Actor("复核", "official")) == schedule.due
    again = runner.invoke(app, ["batch", "demo", "--db", url])  # never into an existing ledger
    assert again.exit_code == 1 and "已存在" in again.output
    assert "batch demo" in Path("scripts/demo.sh").read_text(encoding="utf-8")


def test_help_is_never_cut_and_the_password_prompts_are_chinese() -> None:
    """Was (#37 item 14): a group's help cut each command's sentence with 「…」 at its first line
    (a Rich table cell; Chinese has no spaces to wrap at), and `accounts hash` asked
    「Password:」 / 「Repeat for confirmation:」 and refused with 「The two entered values do not match」."""
    groups = sorted({c.split()[0] for c in COMMANDS if " " in c} | {"contracts", "tiers", "accounts", "api-keys"})
    for group in ["", *groups]:
        out = subprocess.run([sys.executable, "-m", "rules_engine", *group.split(), "--help"], capture_output=True,
                             text=True, env={**os.environ, "COLUMNS": "80"}, check=True).stdout
        cut = re.search(r"(?<!…)…(?!…)", out)  # 「……」 is Chinese for "and so on", written in a docstring
        assert cut is None and "..." not in out.replace("ARGS]...", ""), (group, out)
    r = runner.invoke(app, ["accounts", "hash"], input="甲乙丙\n甲乙丁\n")
    assert r.exit_code == 1 and "两次输入的口令不一致" in r.output
    assert not re.search(r"Password|Repeat|match", r.output)
    r = runner.invoke(app, ["accounts", "hash"], input="甲乙丙\n甲乙丙\n")
    assert r.exit_code == 0 and r.stdout.strip().startswith("scrypt$")


def test_setup_builds_without_setuptools_deprecations() -> None:
    """Was (#37 item 14): setup printed setuptools' deprecation of `license = { text = ... }` 3×
    (one per build step). The license is an SPDX string, which needs setuptools 77."""
    import tomllib

    meta = tomllib.loads(Path("pyproject.toml").read_text(encoding="utf-8"))
    assert meta["project"]["license"] == "Apache-2.0"
    assert "setuptools>=77" in meta["build-system"]["requires"]
