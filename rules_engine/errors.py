"""Domain errors. The library raises these; the CLI and UI turn them into messages."""

from __future__ import annotations

from dataclasses import dataclass


class EngineError(Exception):
    """Base class of every error this package raises on purpose.

    `code` is stable and machine-readable (the HTTP API returns it); the message is what a
    user reads."""

    code = "error"


class ExpressionError(EngineError):
    """A condition or formula expression is malformed or ill-typed.

    `pos`/`length` index into `text`; the policy loader maps them to file lines.
    """

    def __init__(self, message: str, text: str, pos: int, length: int = 1, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.text = text
        self.pos = max(0, min(pos, len(text)))
        self.length = max(1, length)
        self.hint = hint

    def line_col(self) -> tuple[int, int]:
        """1-based line and column of `pos` within `text`."""
        before = self.text[: self.pos]
        line = before.count("\n") + 1
        col = self.pos - (before.rfind("\n") + 1) + 1
        return line, col

    def caret(self) -> str:
        line, col = self.line_col()
        src = self.text.split("\n")[line - 1]
        return f"{src}\n{caret_under(src, col, self.length)}"

    def __str__(self) -> str:
        line, col = self.line_col()
        hint = f"\n{self.hint}" if self.hint else ""
        return f"{self.message}（第 {col} 列）\n{self.caret()}{hint}"


def display_width(s: str) -> int:
    """Terminal columns: CJK and full-width characters take two."""
    import unicodedata

    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in s)


def caret_under(src_line: str, col: int, length: int = 1) -> str:
    """A line of spaces and ^ under columns col..col+length-1 (1-based, in characters)."""
    pad = display_width(src_line[: col - 1])
    width = max(1, display_width(src_line[col - 1 : col - 1 + length]))
    return " " * pad + "^" * width


@dataclass(frozen=True)
class Problem:
    """One located problem in a policy file."""

    file: str
    line: int
    column: int
    field: str
    message: str
    source_line: str = ""
    length: int = 1
    hint: str = ""
    shift: int = 0  # source_line is an excerpt: the caret goes at column - shift

    def __str__(self) -> str:
        head = f"{self.file}:{self.line}:{self.column}: " + (f"{self.field}: " if self.field else "") + self.message
        if self.source_line:
            head += f"\n    {self.source_line}\n    {caret_under(self.source_line, self.column - self.shift, self.length)}"
        if self.hint:
            head += f"\n    {self.hint}"
        return head


class PolicyLoadError(EngineError):
    """One or more policy files failed to load; every problem found is listed."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class UnsupportedConstruct(EngineError, NotImplementedError):
    """A backend cannot express an IR node (reported, never guessed)."""


class DataError(EngineError):
    """An enterprise data file cannot be read as what it claims to be."""

    code = "bad_data"


class Forbidden(EngineError):
    """The actor may not do this, or not to this enterprise."""

    code = "forbidden"


class NotFound(EngineError):
    """The thing named does not exist (or is not visible to the actor)."""

    code = "not_found"


class Conflict(EngineError):
    """Someone else changed the same record first (a compare-and-set lost); nothing was done."""

    code = "conflict"


class Invalid(EngineError):
    """The request itself is malformed or not allowed in the current state."""

    code = "invalid"


OS_REASONS = {"ENOENT": "文件不存在", "EACCES": "没有读取权限", "EPERM": "没有权限", "EISDIR": "这是目录，不是文件",
              "ENOTDIR": "路径中有一段不是目录", "ENOSPC": "磁盘已满", "EROFS": "文件系统只读"}


def os_reason(exc: OSError) -> str:
    """Why the operating system refused, in Chinese (its own words are English)."""
    import errno

    name = errno.errorcode.get(exc.errno or 0, "")
    return OS_REASONS.get(name, exc.strerror or str(exc))
