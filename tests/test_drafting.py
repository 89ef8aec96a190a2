"""政策拆解: the drafter against the benchmark's expert rules, the reader's refusals, the
boundary conventions, open items instead of guesses, the command and the service path."""

from __future__ import annotations

import contextlib
import datetime as dt
import io
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rules_engine.data.tags import load_dictionary
from rules_engine.drafting.draft import Drafter
from rules_engine.drafting.numbers import quantities
from rules_engine.drafting.reader import DocumentError, read_document
from rules_engine.errors import EngineError
from rules_engine.library.loader import load_policy_text
from rules_engine.library.policytests import run_policy_tests

ROOT = Path(__file__).resolve().parent.parent
D = load_dictionary()
DRAFTER = Drafter(D)


def draft(text: str, name: str = "t.txt"):  # noqa: ANN201
    return DRAFTER.draft(read_document(text.encode("utf-8"), name))


def rules(doc) -> list[list[str]]:  # noqa: ANN001
    return [[p.rule for p in d.parts if p.role == "条件"] for d in doc.drafts]


HEAD = "合肥市测试政策\n合政〔2026〕1号\n"


def test_the_benchmark_meets_its_targets_and_every_draft_loads_as_written() -> None:
    from benchmarks import draft_rules

    out = draft_rules.run(print_out=False, pages=(20,))
    assert out["clauses"] >= 40
    assert out["drafts_loading"] >= 0.95 and out["condition_f1"] >= 0.85 and out["amounts_exact"] >= 0.90
    assert out["conditions_without_span"] == 0 and out["open_items_expected_found"] == "1/1"
    # the fastest of 3 runs: this test shares 2 cores with another worker (the benchmark reports the median)
    assert out["fastest_20_pages"] <= 2.0, out["fastest_20_pages"]
    for path in sorted((ROOT / "benchmarks/drafting/corpus").glob("*.txt")):
        doc = DRAFTER.draft(read_document(path.read_bytes(), path.name))
        for d in doc.drafts:  # the YAML the official gets is the policy the drafter checked
            again = load_policy_text(d.yaml, D, f"{d.policy_id}.yaml")
            assert again == d.policy, d.policy_id
            assert all(r.ok for r in run_policy_tests([again], D)), [r.problems for r in run_policy_tests([again], D)]


def test_boundaries_follow_the_text_yishang_includes_chaoguo_excludes() -> None:
    doc = draft(HEAD + "第二条 对上年度营业收入1000万元以上、纳税总额超过50万元、参保职工人数不足100人、"
                "研发费用不超过200万元的企业，给予一次性奖励10万元。\n")
    assert rules(doc) == [["revenue[上年] >= 1000万", "tax_paid[上年] > 50万", "insured_staff < 100",
                           "rd_expense[上年] <= 200万"]]
    cases = yaml.safe_load(doc.drafts[0].yaml)["tests"]
    at = {c["name"]: c["expect"]["status"] for c in cases}
    assert at["revenue[上年] 恰为 10000000（条件 >= 10000000）"] == "eligible"
    assert at["tax_paid[上年] 恰为 500000（条件 > 500000）"] == "not_eligible"
    assert at["insured_staff 恰为 100（条件 < 100）"] == "not_eligible"


def test_amounts_and_chinese_numerals_are_exact() -> None:
    assert [(q.value, q.unit) for q in quantities("1.5亿元、二十万元、一点五亿元、百分之十、３０万元".replace("３０", "30"))] == [
        (150000000, "元"), (200000, "元"), (150000000, "元"), (10, "%"), (300000, "元")]
    doc = draft(HEAD + "第二条 对上年度工业总产值达到1.5亿元的企业，给予一次性奖励二十万元。\n")
    assert rules(doc) == [["output_value[上年] >= 1.5亿"]]
    assert yaml.safe_load(doc.drafts[0].yaml)["benefit"] == {"fixed": 200000}


def test_a_phrase_no_tag_names_is_an_open_item_with_its_text_never_a_condition() -> None:
    doc = draft(HEAD + "第二条 对近三年内未发生环境污染事故的高新技术企业，给予一次性奖励5万元。\n")
    assert rules(doc) == [["is_hitech"]]
    texts = [o.message for o in doc.drafts[0].opens]
    assert any("环境污染事故" in t for t in texts), texts
    o = next(o for o in doc.drafts[0].opens if "环境污染事故" in o.message)
    assert "环境污染事故" in doc.source.text[o.span[0]:o.span[1]]


def test_a_clause_with_two_benefits_splits_or_says_it_cannot() -> None:
    doc = draft(HEAD + "第二条 对新认定的国家级、省级绿色工厂，分别给予一次性奖励100万元、50万元。\n"
                "第三条 对高新技术企业和科技型中小企业，分别给予10万元、5万元、1万元奖励。\n")
    assert rules(doc) == [['green_factory_level == "国家级"'], ['green_factory_level == "省级"']]
    assert any("分别" in o.message and "一一对应" in o.message for o in doc.opens), [o.message for o in doc.opens]


def test_traditional_characters_and_full_width_digits_are_read_and_spans_point_at_the_original() -> None:
    original = HEAD + "第二條 對上年度營業收入超過５０００萬元的企業，給予一次性獎勵１０萬元。\n"
    doc = draft(original)
    assert rules(doc) == [["revenue[上年] > 5000万"]]
    assert yaml.safe_load(doc.drafts[0].yaml)["benefit"] == {"fixed": 100000}
    part = next(p for p in doc.drafts[0].parts if p.role == "条件" and p.rule.startswith("revenue"))
    assert doc.source.original[part.span[0]:part.span[1]] == "營業收入超過５０００萬元"
    assert any("繁体" in n for n in doc.source.notes) and any("全角" in n for n in doc.source.notes)


@pytest.mark.parametrize("data, says", [
    (b"", "空文件"),
    (b"   \n  ", "空文件"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, ".docx"),
    (b"PK\x03\x04 not a zip", "Word"),
    (b"%PDF-1.4 garbage", "PDF"),
    (b"\x00\x01\x02binary", "不是文本"),
])
def test_unreadable_files_are_refused_with_the_reason(data: bytes, says: str) -> None:
    with pytest.raises(DocumentError) as exc:
        read_document(data, "f")
    assert says in str(exc.value)


def test_a_scanned_pdf_without_a_text_layer_is_named_as_such_and_a_text_layer_is_read() -> None:
    from pypdf import PdfWriter

    w = PdfWriter()
    w.add_blank_page(width=595, height=842)
    buf = io.BytesIO()
    w.write(buf)
    with pytest.raises(DocumentError, match="没有文字层"):
        read_document(buf.getvalue(), "扫描件.pdf")
    stream = b"BT /F1 12 Tf 72 720 Td (Article 2 grants 300000 yuan) Tj ET"
    pdf = _pdf_with(stream)
    assert "Article 2 grants 300000 yuan" in read_document(pdf, "text.pdf").text


def _pdf_with(stream: bytes) -> bytes:
    objs = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
            b"/Resources << /Font << /F1 5 0 R >> >> >>",
            b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for i, o in enumerate(objs, 1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % i + o + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1))
    for off in offsets:
        out.write(b"%010d 00000 n \n" % off)
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, xref))
    return out.getvalue()


def test_a_word_document_is_drafted_like_its_text() -> None:
    import docx

    src = (ROOT / "benchmarks/drafting/corpus/07-anqing-keji.txt").read_text(encoding="utf-8")
    document = docx.Document()
    for line in src.splitlines():
        document.add_paragraph(line)
    buf = io.BytesIO()
    document.save(buf)
    from_word = DRAFTER.draft(read_document(buf.getvalue(), "奖励办法.docx"))
    from_text = DRAFTER.draft(read_document(src.encode(), "奖励办法.txt"))
    assert from_word.source.kind == "Word" and len(from_word.drafts) == 4
    assert [d.yaml for d in from_word.drafts] == [d.yaml for d in from_text.drafts]


ALPHABET = "对上年度营业收入纳税总额超过不低于以上以下万元亿给予奖励补助按的%最高一次性高新技术企业，、。；第条（）一二三1234567890 \n"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(alphabet=ALPHABET, max_size=300))
def test_no_text_crashes_the_drafter(text: str) -> None:
    try:
        doc = DRAFTER.draft(read_document(text.encode("utf-8"), "fuzz.txt"))
    except DocumentError:
        return
    for d in doc.drafts:
        assert d.loads or d.problems
        assert all(p.span[1] > p.span[0] for p in d.parts if p.role == "条件")


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=2000), st.sampled_from([b"", b"%PDF-1.4\n", b"PK\x03\x04"]))
def test_no_bytes_crash_the_reader(data: bytes, prefix: bytes) -> None:
    with contextlib.suppress(DocumentError):  # a refusal with its reason is an answer; anything else fails
        read_document(prefix + data, "fuzz")


def test_the_command_writes_each_draft_and_refuses_an_empty_file(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from rules_engine.cli import app

    out = tmp_path / "drafts"
    r = CliRunner().invoke(app, ["draft", str(ROOT / "benchmarks/drafting/corpus/02-anhui-zhongxiao.txt"), "-o", str(out)])
    assert r.exit_code == 0, r.output
    files = sorted(out.glob("*.yaml"))
    assert len(files) == 5 and "已写入 5 个草稿文件" in r.output and "原文第" in r.output
    for f in files:
        load_policy_text(f.read_text(encoding="utf-8"), D, f.name)
    empty = tmp_path / "空.txt"
    empty.write_bytes(b"")
    r = CliRunner().invoke(app, ["draft", str(empty)])
    assert r.exit_code == 1 and "空文件" in r.output


def test_a_draft_is_submitted_for_two_person_review_through_the_service(tmp_path: Path) -> None:
    from rules_engine import service
    from rules_engine.service import drafting, policies
    from rules_engine.service.actors import Actor

    sf = service.open_ledger(f"sqlite:///{tmp_path / 'l.db'}")
    author, reviewer = Actor("张三", "official"), Actor("李四", "official")
    with pytest.raises(EngineError):
        drafting.draft_document(Actor("企业", "enterprise", "91340100MA2N0000X0"), D, b"x", "x.txt")
    doc = drafting.draft_document(author, D, (ROOT / "benchmarks/drafting/corpus/01-hefei-keji.txt").read_bytes(), "科技.txt")
    first = doc.drafts[0]
    library = tmp_path / "policies"
    library.mkdir()
    row = policies.submit_draft(sf, author, D, first.yaml, f"drafted/{first.policy_id}.yaml", library, "起草")
    assert row.status == "submitted" and not (library / "drafted").exists()
    with pytest.raises(EngineError):
        policies.approve_draft(sf, author, D, row.id, library)  # the author cannot publish their own draft
    policies.approve_draft(sf, reviewer, D, row.id, library)
    published = load_policy_text((library / "drafted" / f"{first.policy_id}.yaml").read_text(encoding="utf-8"), D, "p")
    assert published.id == first.policy_id and published.valid_from == dt.date(2026, 1, 1)


def test_a_draft_goes_through_library_lint_too() -> None:
    """An expired document drafts into a policy lint would flag: the official reads it first."""
    doc = draft(HEAD + "第二条 对高新技术企业给予一次性奖励5万元。\n第三条 本政策自2019年1月1日起施行，有效期至2020年12月31日。\n")
    assert any(o.message.startswith("检查：") and "到期" in o.message for o in doc.drafts[0].opens), \
        [o.message for o in doc.drafts[0].opens]


def test_a_strict_date_condition_gets_a_date_in_its_cases() -> None:
    """Was: `registration_date > 2026-01-01` gave its cases the placeholder "DATE+1", which no
    loader reads: the draft would not have loaded."""
    from rules_engine.drafting.clauses import Part
    from rules_engine.drafting.draft import boundary_cases

    after = Part("条件", "registration_date > 2026-01-01", "2026年1月1日以后成立", (0, 1))
    before = Part("条件", "registration_date < 2020-01-01", "2020年1月1日以前成立", (0, 1))
    cases = boundary_cases(D, dt.date(2026, 3, 1), None, {"fixed": "50000"}, [after], [])
    assert cases[0]["tags"]["registration_date"] == "2026-01-02"
    cases = boundary_cases(D, dt.date(2026, 3, 1), None, {"fixed": "50000"}, [before], [])
    assert cases[0]["tags"]["registration_date"] == "2019-12-31"
