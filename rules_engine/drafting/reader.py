"""A policy document's text from its file: plain text, .docx (python-docx) or .pdf with a text
layer (pypdf). The text is normalised without changing its length (full-width ASCII to ASCII,
Traditional to Simplified character for character), so every span the drafter reports points at
the same characters in what the official uploaded."""

from __future__ import annotations

import functools
import io
import zipfile
from dataclasses import dataclass

from ..errors import EngineError

MAX_BYTES = 32 * 1024 * 1024  # a 200-page .docx with images is ~10 MB
MAX_UNZIPPED = 96 * 1024 * 1024  # a .docx is a zip: refuse a bomb before parsing it
MAX_PAGES = 1000
MAX_CHARS = 2_000_000  # ~1,300 pages of policy text


class DocumentError(EngineError):
    """A document the drafter cannot read; the message says why and what to do."""

    code = "document_unreadable"


@dataclass(frozen=True)
class SourceText:
    name: str
    kind: str  # 文本 | Word | PDF
    text: str  # normalised; same length as `original`, character for character
    original: str
    pages: int | None
    notes: tuple[str, ...]  # what normalisation did, in Chinese


def _decode(data: bytes, name: str) -> str:
    if b"\x00" in data[:4096]:
        raise DocumentError(f"{name} 不是文本、Word（.docx）或 PDF 文件")
    for enc in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(enc)
        except UnicodeDecodeError:
            continue
    raise DocumentError(f"{name} 的文字编码无法识别：请另存为 UTF-8 文本或上传 .docx / .pdf")


def _docx(data: bytes, name: str) -> str:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            if sum(i.file_size for i in z.infolist()) > MAX_UNZIPPED:
                raise DocumentError(f"{name} 解压后超过 {MAX_UNZIPPED // 1024 // 1024} MB，不予读取")
            if "word/document.xml" not in z.namelist():
                raise DocumentError(f"{name} 不是 Word 文档（.docx）：缺少正文部分")
        import docx  # python-docx

        doc = docx.Document(io.BytesIO(data))
    except DocumentError:
        raise
    except Exception as exc:  # noqa: BLE001 - a damaged file in any of the ways lxml/zipfile report
        raise DocumentError(f"{name} 无法作为 Word 文档读取（{type(exc).__name__}）：文件可能已损坏") from None
    lines = [p.text for p in doc.paragraphs]
    for table in doc.tables:
        for row in table.rows:
            lines.append("　".join(c.text for c in row.cells))
    return "\n".join(lines)


def _pdf(data: bytes, name: str) -> tuple[str, int]:
    try:
        from pypdf import PdfReader

        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            raise DocumentError(f"{name} 已加密：请上传未加密的 PDF")
        n = len(reader.pages)
        if n > MAX_PAGES:
            raise DocumentError(f"{name} 共 {n} 页，超过 {MAX_PAGES} 页：请按章节拆分后上传")
        pages = [(page.extract_text() or "") for page in reader.pages]
    except DocumentError:
        raise
    except Exception as exc:  # noqa: BLE001 - pypdf reports a broken file in many exception types
        raise DocumentError(f"{name} 无法作为 PDF 读取（{type(exc).__name__}）：文件可能已损坏") from None
    text = "\n".join(pages)
    if not text.strip():
        raise DocumentError(f"{name} 没有文字层（可能是扫描件）：请先做文字识别（OCR），或上传 .docx / 文本")
    return text, n


@functools.cache
def _t2s() -> object | None:
    """OpenCC's converter, made on first use (not when the API or the UI imports this module)."""
    try:
        import opencc

        return opencc.OpenCC("t2s")
    except Exception:  # noqa: BLE001 - the converter is optional; the note says when it is missing
        return None


def normalise(original: str) -> tuple[str, tuple[str, ...]]:
    """Same-length normalisation: full-width ASCII and the ideographic space to ASCII, CR to LF,
    Traditional characters to Simplified (character for character, so spans stay put)."""
    out = []
    wide = 0
    for ch in original:
        o = ord(ch)
        if 0xFF01 <= o <= 0xFF5E and ch not in "（）：；，":  # keep Chinese punctuation as written
            out.append(chr(o - 0xFEE0))
            wide += 1
        elif ch == "\u3000":
            out.append(" ")
        elif ch == "\r":
            out.append("\n")
        else:
            out.append(ch)
    text = "".join(out)
    notes = [f"已将全角字母、数字和符号转换为半角（{wide} 处）"] if wide else []
    converter = _t2s()
    if converter is not None:
        whole = converter.convert(text)  # type: ignore[attr-defined]
        if len(whole) != len(text):  # a phrase changed length: convert one character at a time
            whole = "".join(converter.convert(c) if len(converter.convert(c)) == 1 else c  # type: ignore[attr-defined]
                            for c in text)
        changed = sum(a != b for a, b in zip(text, whole))
        if changed:
            notes.append(f"已将繁体字转换为简体字（{changed} 处）")
        text = whole
    else:
        notes.append("繁简转换组件不可用：繁体字未转换")
    return text, tuple(notes)


def read_document(data: bytes, name: str) -> SourceText:
    """The text of an uploaded policy document; `DocumentError` with the reason otherwise."""
    name = name or "上传的文件"
    if not data or not data.strip():
        raise DocumentError(f"{name} 是空文件")
    if len(data) > MAX_BYTES:
        raise DocumentError(f"{name} 超过 {MAX_BYTES // 1024 // 1024} MB：请按章节拆分后上传")
    pages: int | None = None
    if data[:5] == b"%PDF-":
        kind = "PDF"
        original, pages = _pdf(data, name)
    elif data[:4] == b"PK\x03\x04":
        kind = "Word"
        original = _docx(data, name)
    elif data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        raise DocumentError(f"{name} 是旧版 Word（.doc）：请另存为 .docx 后上传")
    else:
        kind = "文本"
        original = _decode(data, name)
    if not original.strip():
        raise DocumentError(f"{name} 中没有文字")
    if len(original) > MAX_CHARS:
        raise DocumentError(f"{name} 的文字超过 {MAX_CHARS:,} 字：请按章节拆分后上传")
    text, notes = normalise(original)
    return SourceText(name, kind, text, original, pages, notes)
