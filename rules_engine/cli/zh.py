"""The command line's own words in Chinese: Typer (and the Click it vendors) print "Usage:",
"Options", "Show this message and exit." and their error messages in English, with no
translation catalogue to install. Their module-level strings are replaced here, once, before
any command runs; the commands' own help is written in Chinese where it is defined."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import typer.rich_utils as rich
from typer._click import core as click_core
from typer._click import exceptions, formatting

HELP_OPTION = "显示本帮助并退出。"

# Click's usage errors, by their English shape (typer/_click/exceptions.py, core.py, parser.py)
ERRORS: list[tuple[re.Pattern[str], str | Callable[[re.Match[str]], str]]] = [
    (re.compile(r"Missing option '([^']*)'\.?"), r"缺少选项 \1"),
    (re.compile(r"Missing argument '([^']*)'\.?"), r"缺少参数 \1"),
    (re.compile(r"Missing parameter: (\S+)"), r"缺少参数 \1"),
    (re.compile(r"No such option: (\S+?)(?: Did you mean (\S+?)\?| \(Possible options: ([^)]*)\))?$"),
     lambda m: f"没有选项 {m[1]}" + (f"，是否要用 {m[2]}？" if m[2] else f"（可能是：{m[3]}）" if m[3] else "")),
    (re.compile(r"No such command '([^']*)'\."), r"没有命令 \1"),
    (re.compile(r"Missing command\."), "缺少命令"),
    (re.compile(r"Got unexpected extra argument(?:s|\(s\))? \((.*)\)"), r"多余的参数：\1"),
    (re.compile(r"Option '([^']*)' requires an argument\."), r"选项 \1 需要一个值"),
    (re.compile(r"Option '([^']*)' does not take a value\."), r"选项 \1 不接受值"),
    (re.compile(r"Invalid value for '([^']*)': '([^']*)' is not a valid integer\."), r"\1 的值 \2 不是整数"),
    (re.compile(r"Invalid value for '([^']*)': '([^']*)' is not one of (.*)\."), r"\1 的值 \2 不是可选值（\3）之一"),
    (re.compile(r"Invalid value for '([^']*)': (?:File|Path|Directory) '([^']*)' does not exist\."),
     r"\1：文件或目录 \2 不存在"),
    (re.compile(r"Input should be a valid integer.*"), "应为整数"),
    (re.compile(r"Input should be a valid number.*"), "应为数值"),
    (re.compile(r"Invalid value for '([^']*)': (.*)"), lambda m: f"{m[1]} 的值无效：{translate_error(m[2])}"),
]


def translate_error(message: str) -> str:
    for pattern, zh in ERRORS:
        if (m := pattern.fullmatch(message.strip())) is not None:
            return m.expand(zh) if isinstance(zh, str) else zh(m)
    return message


_installed = False


def install() -> None:
    """Idempotent: the wrappers below go on once, whoever calls it."""
    global _installed
    if _installed:
        return
    _installed = True
    rich.ARGUMENTS_PANEL_TITLE = "参数"
    rich.OPTIONS_PANEL_TITLE = "选项"
    rich.COMMANDS_PANEL_TITLE = "命令"
    rich.ERRORS_PANEL_TITLE = "错误"
    rich.ABORTED_TEXT = "已中止。"
    rich.RICH_HELP = "输入 [blue]'{command_path} {help_option}'[/] 查看帮助。"
    rich.DEFAULT_STRING = "[默认：{}]"
    rich.ENVVAR_STRING = "[环境变量：{}]"
    rich.REQUIRED_LONG_STRING = "[必填]"
    rich.DEPRECATED_STRING = "（已弃用）"

    write_usage = formatting.HelpFormatter.write_usage

    def usage_zh(self: Any, prog: str, args: str = "", prefix: str | None = None) -> None:
        write_usage(self, prog, args, "用法：" if prefix is None else prefix)

    formatting.HelpFormatter.write_usage = usage_zh  # type: ignore[method-assign]

    get_help_option = click_core.Command.get_help_option

    def help_option_zh(self: Any, ctx: Any) -> Any:
        opt = get_help_option(self, ctx)
        if opt is not None:
            opt.help = HELP_OPTION
        return opt

    click_core.Command.get_help_option = help_option_zh  # type: ignore[method-assign]

    make_command_help = rich._make_command_help

    def command_help_folded(**kwargs: Any) -> Any:
        # A command's line in a group's help is a cell of a Rich table, cut with 「…」 at its first
        # line: Chinese has no spaces for it to wrap at. Folded, the whole sentence is read.
        text = make_command_help(**kwargs)
        if hasattr(text, "overflow"):
            text.overflow = "fold"
        return text

    rich._make_command_help = command_help_folded

    for cls in vars(exceptions).values():  # every error class, whether or not it words its own message
        if isinstance(cls, type) and issubclass(cls, exceptions.ClickException):
            cls.format_message = _zh(cls.format_message)  # type: ignore[method-assign]


def _zh(format_message: Any) -> Any:
    def message_zh(self: Any) -> str:
        return translate_error(format_message(self))

    return message_zh
