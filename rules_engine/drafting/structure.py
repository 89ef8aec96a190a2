"""A policy document's structure: its header (title, 文号, issuing date, issuer), its articles
(第X条, 一、, （一）, 1.) and its sentences, each with offsets into the uploaded text.

Analysis runs on a *view* of a stretch of text without whitespace and quotation marks (a PDF
breaks lines and spaces characters apart anywhere); `View.span` maps a match in the view back to
the characters of the original."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

from .numbers import DATE

_SKIP = set(" \t\n\r\u00a0“”\"‘’'「」『』")
CN = "一二三四五六七八九十百零〇"
HEADING = re.compile(
    rf"(?P<art>第[{CN}\d]+条)"
    rf"|(?P<sec>(?<![{CN}])[{CN}]{{1,3}}、)"
    rf"|(?P<sub>[（(][{CN}]{{1,3}}[）)])"
    rf"|(?P<item>(?<![\d.])\d{{1,2}}[、.](?!\d))")
LEVEL = {"art": 1, "sec": 1, "sub": 2, "item": 3}
NUMBER = re.compile(r"[\u4e00-\u9fa5]{1,12}[〔\[［【(（]\s*(?:19|20)\d{2}\s*[〕\]］】)）]\s*\d{1,4}\s*号")


@dataclass(frozen=True)
class View:
    """Text without whitespace, each character's offset in the original kept."""

    text: str
    offsets: tuple[int, ...]

    @staticmethod
    def of(source: str, start: int = 0, end: int | None = None) -> View:
        end = len(source) if end is None else end
        keep = [(i, source[i]) for i in range(start, end) if source[i] not in _SKIP]
        return View("".join(c for _, c in keep), tuple(i for i, _ in keep))

    def span(self, i: int, j: int) -> tuple[int, int]:
        """Original [start, end) of view[i:j]."""
        if not self.offsets:
            return 0, 0
        i = max(0, min(i, len(self.offsets) - 1))
        j = max(i + 1, min(j, len(self.offsets)))
        return self.offsets[i], self.offsets[j - 1] + 1

    def slice(self, i: int, j: int) -> View:
        return View(self.text[i:j], self.offsets[i:j])


@dataclass
class Article:
    label: str  # 第三条 / 一、（一） / 1.
    start: int  # in the original text
    end: int
    body: View = field(repr=False)


@dataclass
class Header:
    title: str = ""
    number: str = ""
    issued: dt.date | None = None
    issuer: str = ""
    title_span: tuple[int, int] = (0, 0)
    number_span: tuple[int, int] = (0, 0)


def _heading_at(text: str, i: int) -> re.Match[str] | None:
    m = HEADING.match(text, i)
    if m is None:
        return None
    if m.lastgroup == "item" and i + len(m.group()) < len(text) and text[i + len(m.group())] in "万亿元%年月日":
        return None
    return m


def _line_starts(text: str) -> list[int]:
    """Where a heading may begin: a line's first non-blank character, or after 。；：
    (text pasted as one paragraph still splits into its articles)."""
    out = []
    at_start = True
    for i, ch in enumerate(text):
        if ch in " \t\u00a0":
            continue
        if ch == "\n":
            at_start = True
            continue
        if at_start:
            out.append(i)
        at_start = ch in "。；：:"
    return out


def split(text: str) -> tuple[Header, list[Article]]:
    """The header (everything before the first heading) and the articles, innermost labels
    chained under their parents (二、（四） when （四） follows 二、)."""
    marks: list[tuple[int, int, str, int]] = []  # (start, end of label, label, level)
    for i in _line_starts(text):
        m = _heading_at(text, i)
        if m is None or m.lastgroup is None:
            continue
        kind = m.lastgroup
        # 一、 and 1. mid-paragraph are list items of a sentence, not articles
        if kind in ("sec", "item") and i > 0 and text[i - 1] not in "\n":
            j = i - 1
            while j >= 0 and text[j] in " \t\u00a0":
                j -= 1
            if j >= 0 and text[j] != "\n":
                continue
        label = m.group().replace("(", "（").replace(")", "）").replace("、", "、")
        if kind == "item":
            label = label[:-1] + "."
        marks.append((i, m.end(), label, LEVEL[kind]))
    header_end = marks[0][0] if marks else len(text)
    header = _header(text, header_end)
    # a date line after the first heading (落款) is the issuing date if the header has none
    if header.issued is None:
        for d in DATE.finditer(text):
            line_start = text.rfind("\n", 0, d.start()) + 1
            line_end = text.find("\n", d.end())
            line = text[line_start: len(text) if line_end < 0 else line_end].strip(" \t（）()")
            if line == d.group():
                header.issued = _date(d)
                break
    articles: list[Article] = []
    parents: dict[int, str] = {}
    for k, (start, lend, label, level) in enumerate(marks):
        end = marks[k + 1][0] if k + 1 < len(marks) else len(text)
        parents = {lv: lb for lv, lb in parents.items() if lv < level}
        chain = "".join(parents[lv] for lv in sorted(parents)) + label
        parents[level] = label
        body = View.of(text, lend, end)
        if not body.text.strip("。；，"):
            continue  # a heading alone (一、支持企业做大做强 with its items below) has no clause
        # a heading's own title (一、支持企业做大做强) is not a clause: it holds no sentence end
        articles.append(Article(chain, start, end, body))
    return header, articles


def _date(m: re.Match[str]) -> dt.date | None:
    try:
        return dt.date(int(m.group("y")), int(m.group("m")), int(m.group("d")))
    except ValueError:
        return None


def _header(text: str, end: int) -> Header:
    h = Header()
    lines = []
    pos = 0
    for raw in text[:end].split("\n"):
        s = raw.strip()
        if s:
            lines.append((pos + raw.find(s), s))
        pos += len(raw) + 1
    m = NUMBER.search(text[:end])
    if m:
        h.number = re.sub(r"\s+", "", m.group())
        h.number = re.sub(r"^.*?([\u4e00-\u9fa5]{1,8}[〔\[［【(（])", r"\1", h.number)
        h.number = re.sub(r"[\[［【(（]", "〔", h.number)
        h.number = re.sub(r"[\]］】)）]", "〕", h.number)
        h.number_span = (m.start(), m.end())
    for d in DATE.finditer(text[:end]):
        h.issued = _date(d)
    # the title: the document's own name (…若干政策) is the last title-like line before the
    # articles; a covering notice (关于印发…的通知) names it inside 《》 or after 印发
    titles = [(p, s) for p, s in lines if not NUMBER.fullmatch(s) and not DATE.fullmatch(s.strip("（）()"))
              and len(s) <= 60 and not s.endswith(("：", ":", "。")) and "印发给你们" not in s]
    names = [(p, s) for p, s in titles if not s.endswith(("人民政府", "办公厅", "办公室"))]
    if names:
        p, s = names[-1]
        inner = re.search(r"关于印发(.+?)的通知", s)
        if inner and len(names) == 1:
            s = inner.group(1).strip("《》")
            p = p + names[-1][1].find(s)
        h.title, h.title_span = s, (p, p + len(s))
        first = names[0][1]
        issuer = re.match(r"(.+?)(?:关于|$)", first)
        if issuer and "关于" in first:
            h.issuer = issuer.group(1).strip()
    return h


SENTENCE_END = "。；;"


def sentences(body: View) -> list[View]:
    """The sentences of an article: split at 。 and ；."""
    out = []
    start = 0
    for i, ch in enumerate(body.text):
        if ch in SENTENCE_END:
            if i > start:
                out.append(body.slice(start, i))
            start = i + 1
    if start < len(body.text):
        out.append(body.slice(start, len(body.text)))
    return out
