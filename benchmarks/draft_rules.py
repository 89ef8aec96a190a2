"""政策拆解 benchmark: the drafter against the rules an expert wrote for each support clause of
benchmarks/drafting/corpus (expected.yaml), and its speed on a 20-page and a 200-page document.

    .venv/bin/python -m benchmarks.draft_rules

Prints per-field precision and recall, the share of drafts that load, of conditions right
without edits, of amounts exact, conditions without a source span, and seconds per document.
Conditions compare as bound IR atoms (a top-level `and` split), benefits as bound formulas."""

from __future__ import annotations

import json
import statistics
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from rules_engine import ir
from rules_engine.data.tags import TagDictionary, load_dictionary
from rules_engine.drafting.draft import DraftDocument, Drafter
from rules_engine.drafting.reader import read_document
from rules_engine.language.binder import bind_condition
from rules_engine.language.parser import parse_condition
from rules_engine.library.loader import load_policy_text

HERE = Path(__file__).parent / "drafting"
PAGE_CHARS = 700  # an A4 page of a government document: 22 lines of 28 characters, with headings


def atoms(pred: ir.Pred) -> list[ir.Pred]:
    if isinstance(pred, ir.And):
        return [a for p in pred.items for a in atoms(p)]
    return [pred]


def bound(text: str, d: TagDictionary) -> list[ir.Pred]:
    return atoms(bind_condition(parse_condition(text), d, text, {}))


def expected_benefit(benefit: dict[str, object], d: TagDictionary) -> ir.Formula:
    doc = {"id": "expected", "version": 1, "title": "t", "department": "d", "basis": {"document": "d", "number": "n"},
           "tier": "免申即享", "valid_from": "2026-01-01", "conditions": [], "benefit": benefit}
    return load_policy_text(yaml.safe_dump(doc, allow_unicode=True), d, "expected.yaml").benefit


@dataclass
class Score:
    tp: Counter[str] = field(default_factory=Counter)
    fp: Counter[str] = field(default_factory=Counter)
    fn: Counter[str] = field(default_factory=Counter)
    drafts: int = 0
    loaded: int = 0
    expected: int = 0
    benefit_exact: int = 0
    conditions_exact: int = 0
    unspanned: int = 0
    opens_expected: int = 0
    opens_found: int = 0
    misses: list[str] = field(default_factory=list)

    def add(self, fld: str, tp: int, fp: int, fn: int) -> None:
        self.tp[fld] += tp
        self.fp[fld] += fp
        self.fn[fld] += fn

    def prf(self, fld: str) -> tuple[float, float, float]:
        tp, fp, fn = self.tp[fld], self.fp[fld], self.fn[fld]
        p = tp / (tp + fp) if tp + fp else 1.0
        r = tp / (tp + fn) if tp + fn else 1.0
        return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def score_document(name: str, spec: dict, doc: DraftDocument, d: TagDictionary, sc: Score) -> None:
    common = [a for c in spec.get("common", []) for a in bound(str(c), d)]
    drafts = list(doc.drafts)
    sc.drafts += len(drafts)
    sc.loaded += sum(dd.loads for dd in drafts)
    for dd in drafts:
        sc.unspanned += sum(1 for p in dd.parts if p.role == "条件" and p.span[1] <= p.span[0])
    texts = [o.message for o in doc.opens] + [o.message for dd in drafts for o in dd.opens]
    for item in spec.get("open", []):
        sc.opens_expected += 1
        sc.opens_found += any(item[:6] in t for t in texts)
    used: set[int] = set()
    for exp in spec["drafts"]:
        sc.expected += 1
        want = Counter(common + [a for c in exp["conditions"] for a in bound(str(c), d)])
        match = next((i for i, dd in enumerate(drafts) if i not in used and dd.article.endswith(str(exp["article"]))), None)
        if match is None:
            sc.add("条件", 0, 0, sum(want.values()))
            for fld in ("金额", "适用区域", "生效日期", "截止日期", "文号", "条款"):
                sc.add(fld, 0, 0, 1)
            sc.misses.append(f"{name} {exp['article']}：没有对应的草稿")
            continue
        used.add(match)
        dd = drafts[match]
        if dd.policy is None:
            sc.add("条件", 0, 0, sum(want.values()))
            sc.misses.append(f"{name} {exp['article']}：草稿未能加载")
            continue
        p = dd.policy
        got = Counter(a for c in p.conditions if c.id != "region_scope" for a in atoms(c.pred))
        tp = sum((got & want).values())
        sc.add("条件", tp, sum(got.values()) - tp, sum(want.values()) - tp)
        sc.conditions_exact += got == want
        if got != want:
            extra = [str(a) for a in (got - want)]
            lack = [str(a) for a in (want - got)]
            sc.misses.append(f"{name} {exp['article']}：多出 {len(extra)}，缺少 {len(lack)}")
        ok = p.benefit == expected_benefit(exp["benefit"], d)
        sc.benefit_exact += ok
        sc.add("金额", int(ok), int(not ok), int(not ok))
        if not ok:
            sc.misses.append(f"{name} {exp['article']}：金额公式不同")
        for fld, have, should in (("适用区域", sorted(p.regions), sorted(str(r) for r in spec["regions"])),
                                  ("生效日期", str(p.valid_from), str(spec["valid_from"])),
                                  ("截止日期", str(p.valid_to), str(spec["valid_to"])),
                                  ("文号", p.basis.number, spec["number"]),
                                  ("条款", p.basis.article.endswith(str(exp["article"])), True)):
            right = have == should
            sc.add(fld, int(right), int(not right), int(not right))
    extra = [dd for i, dd in enumerate(drafts) if i not in used]
    for dd in extra:
        n = sum(1 for p in dd.parts if p.role == "条件")
        sc.add("条件", 0, n, 0)
        sc.misses.append(f"{name} {dd.article}：多出一条草稿")


def run(print_out: bool = True, pages: tuple[int, ...] = (20, 200)) -> dict[str, object]:
    d = load_dictionary()
    drafter = Drafter(d)
    spec = yaml.safe_load((HERE / "expected.yaml").read_text(encoding="utf-8"))["documents"]
    sc = Score()
    corpus = sorted((HERE / "corpus").glob("*.txt"))
    for path in corpus:
        doc = drafter.draft(read_document(path.read_bytes(), path.name))
        score_document(path.stem, spec[path.stem], doc, d, sc)
    # the held-out clauses: written after the drafter, never used to change it
    held = Score()
    held_spec = yaml.safe_load((HERE / "heldout.yaml").read_text(encoding="utf-8"))["documents"]
    for path in sorted((HERE / "heldout").glob("*.txt")):
        doc = drafter.draft(read_document(path.read_bytes(), path.name))
        score_document(path.stem, held_spec[path.stem], doc, d, held)
    # speed: 20 pages and 200 pages of policy text (the corpus repeated), reading included
    texts = [p.read_text(encoding="utf-8") for p in corpus]
    whole = "\n".join(texts)

    def page_text(n: int) -> bytes:
        out = texts[0]
        i = 1
        while len(out) < n * PAGE_CHARS:
            out += "\n" + "\n".join(line for line in texts[i % len(texts)].splitlines()
                                    if line.startswith(("第", "（", "一", "二", "三", "四", "五", "六", "1", "2", "3")))
            i += 1
        return out.encode()

    timing: dict[int, float] = {}
    fastest: dict[int, float] = {}  # the test suite checks the fastest of 3: it runs beside other tests
    for n in pages:
        data = page_text(n)
        runs = []
        for _ in range(3):
            t0 = time.perf_counter()
            drafter.draft(read_document(data, f"{n}页.txt"))
            runs.append(time.perf_counter() - t0)
        timing[n] = statistics.median(runs)
        fastest[n] = min(runs)
    # the fastest alternative in the same run: reading the text and splitting it into articles only
    from rules_engine.drafting.structure import split
    data = page_text(20)
    t0 = time.perf_counter()
    for _ in range(3):
        split(read_document(data, "20页.txt").text)
    split_s = (time.perf_counter() - t0) / 3
    fields = ["条件", "金额", "适用区域", "生效日期", "截止日期", "文号", "条款"]
    result = {
        "clauses": sc.expected, "drafts": sc.drafts,
        "drafts_loading": sc.loaded / sc.drafts if sc.drafts else 0.0,
        "condition_precision": sc.prf("条件")[0], "condition_recall": sc.prf("条件")[1], "condition_f1": sc.prf("条件")[2],
        "drafts_conditions_exact": sc.conditions_exact / sc.expected,
        "amounts_exact": sc.benefit_exact / sc.expected,
        "conditions_without_span": sc.unspanned,
        "open_items_expected_found": f"{sc.opens_found}/{sc.opens_expected}",
        "fields": {f: dict(zip(("precision", "recall", "f1"), (round(x, 3) for x in sc.prf(f)))) for f in fields},
        "seconds_20_pages": round(timing[20], 3), "fastest_20_pages": round(fastest[20], 3), "seconds_200_pages": round(timing.get(200, float("nan")), 3),
        "seconds_20_pages_split_only": round(split_s, 3),
        "corpus_chars": len(whole), "misses": sc.misses,
        "heldout": {"clauses": held.expected, "drafts_loading": held.loaded / held.drafts if held.drafts else 0.0,
                    "condition_precision": held.prf("条件")[0], "condition_recall": held.prf("条件")[1],
                    "condition_f1": held.prf("条件")[2], "amounts_exact": held.benefit_exact / held.expected,
                    "drafts_conditions_exact": held.conditions_exact / held.expected,
                    "conditions_without_span": held.unspanned, "misses": held.misses},
    }
    if print_out:
        print(f"政策拆解基准：{sc.expected} 个支持条款（{len(corpus)} 份文件），草稿 {sc.drafts} 条")
        print(f"  草稿可加载          {result['drafts_loading']:.1%}")
        p, r, f1 = sc.prf("条件")
        print(f"  条件 精确率/召回率/F1  {p:.3f} / {r:.3f} / {f1:.3f}")
        print(f"  条件无需修改的草稿   {result['drafts_conditions_exact']:.1%}")
        print(f"  金额公式完全正确     {result['amounts_exact']:.1%}")
        print(f"  无原文出处的条件     {sc.unspanned}")
        print(f"  应列为待核对的事项   {result['open_items_expected_found']}")
        for fld in fields[1:]:
            p, r, f1 = sc.prf(fld)
            print(f"  {fld:<6} 精确率 {p:.3f} 召回率 {r:.3f}")
        print(f"  20 页起草 {timing[20]:.3f} s（只读取并切分条款 {split_s:.3f} s）；200 页 {timing.get(200, float('nan')):.3f} s")
        for m in sc.misses:
            print("   -", m)
        hp, hr, hf = held.prf("条件")
        print(f"留出集（起草器完成后编写，未据以修改）：{held.expected} 个条款，草稿可加载 {result['heldout']['drafts_loading']:.1%}，"
              f"条件 P/R/F1 {hp:.3f} / {hr:.3f} / {hf:.3f}，条件无需修改 {result['heldout']['drafts_conditions_exact']:.1%}，"
              f"金额完全正确 {result['heldout']['amounts_exact']:.1%}，无出处条件 {held.unspanned}")
        for m in held.misses:
            print("   -", m)
    return result


if __name__ == "__main__":
    out = run()
    print(json.dumps({k: v for k, v in out.items() if k not in ("misses", "heldout")}, ensure_ascii=False))
