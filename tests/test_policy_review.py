"""起草 → 审核 → 发布 (双人复核): versions kept, diffs in Chinese, rollback as a new version.

Was: one official published straight over the library file (v2 vanished, no second pair of eyes)."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import pytest
import sqlalchemy as sa

from rules_engine import service
from rules_engine.data.tags import load_dictionary
from rules_engine.errors import Conflict, Forbidden, Invalid, NotFound
from rules_engine.ledger.models import AuditEntry
from rules_engine.library.loader import load_policy_text
from rules_engine.service import Actor
from rules_engine.service import policies as pol
from tests.conftest import fresh_url

ROOT = Path(__file__).resolve().parent.parent
AUTHOR, REVIEWER = Actor("张三", "official"), Actor("李四", "official")
AUDITOR = Actor("王审计", "auditor")
D = load_dictionary()
FILE = "employment/canji-jiuye.yaml"


@pytest.fixture
def lib(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "policies", tmp_path / "policies")
    return tmp_path / "policies"


@pytest.fixture(params=["sqlite", "postgresql"])
def sf(request: pytest.FixtureRequest, tmp_path: Path) -> sa.orm.sessionmaker[sa.orm.Session]:
    return service.open_ledger(fresh_url(request.param, tmp_path))


def bumped(lib: Path, version: int, old: str = "insured_staff >= 10", new: str | None = None) -> str:
    text = (lib / FILE).read_text(encoding="utf-8")
    text = text.replace("version: 1", f"version: {version}")
    return text.replace(old, new) if new else text


def actions(sf: sa.orm.sessionmaker[sa.orm.Session]) -> list[tuple[str, str]]:
    with sf() as s:
        return [(e.actor, e.action) for e in s.scalars(sa.select(AuditEntry).order_by(AuditEntry.seq))]


def test_a_draft_is_published_only_after_another_official_approves_it(sf, lib: Path) -> None:  # type: ignore[no-untyped-def]
    before = (lib / FILE).read_text(encoding="utf-8")
    d = pol.submit_draft(sf, AUTHOR, D, bumped(lib, 2), lib / FILE, lib, "修订申报口径")
    assert (lib / FILE).read_text(encoding="utf-8") == before  # submitted, not published
    with pytest.raises(Forbidden, match="双人复核"):
        pol.approve_draft(sf, AUTHOR, D, d.id, lib)
    with pytest.raises(Forbidden):
        pol.approve_draft(sf, AUDITOR, D, d.id, lib)
    msg = pol.approve_draft(sf, REVIEWER, D, d.id, lib)
    assert "复核：李四" in msg and "起草：张三" in msg
    assert "version: 2" in (lib / FILE).read_text(encoding="utf-8")
    kept = pol.versions(sf, AUDITOR, "canji-jiuye")
    assert [v.version for v in kept] == [1, 2] and kept[0].text == before
    assert ("张三", "policy_draft_submitted") in actions(sf) and ("李四", "policy_published") in actions(sf)
    assert service.verify_audit(sf, AUDITOR).ok
    with pytest.raises(Conflict, match="已发布"):  # the same draft cannot be published twice
        pol.approve_draft(sf, REVIEWER, D, d.id, lib)


def test_a_returned_draft_needs_a_reason_and_cannot_be_published(sf, lib: Path) -> None:  # type: ignore[no-untyped-def]
    d = pol.submit_draft(sf, AUTHOR, D, bumped(lib, 2), FILE, lib)
    with pytest.raises(Invalid, match="理由"):
        pol.return_draft(sf, REVIEWER, d.id, "  ")
    pol.return_draft(sf, REVIEWER, d.id, "比例门槛无文件依据")
    with pytest.raises(Conflict, match="已退回"):
        pol.approve_draft(sf, REVIEWER, D, d.id, lib)
    (back,) = pol.drafts(sf, AUTHOR, status="returned")
    assert back.reason == "比例门槛无文件依据" and back.reviewer == "李四"
    assert "version: 1" in (lib / FILE).read_text(encoding="utf-8")


def test_two_reviewers_clicking_at_once_publish_once(sf, lib: Path) -> None:  # type: ignore[no-untyped-def]
    d = pol.submit_draft(sf, AUTHOR, D, bumped(lib, 2), FILE, lib)
    outcomes: list[str] = []
    barrier = threading.Barrier(2)

    def click(who: Actor) -> None:
        barrier.wait()
        try:
            outcomes.append(pol.approve_draft(sf, who, D, d.id, lib))
        except Conflict as exc:
            outcomes.append(f"refused: {exc}")

    threads = [threading.Thread(target=click, args=(Actor(n, "official"),)) for n in ("李四", "王五")]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert sorted(o.startswith("已发布") for o in outcomes) == [False, True], outcomes
    assert [a for a in actions(sf) if a[1] == "policy_published"].__len__() == 1


def test_a_draft_written_against_a_version_since_replaced_is_refused(sf, lib: Path) -> None:  # type: ignore[no-untyped-def]
    first = pol.submit_draft(sf, AUTHOR, D, bumped(lib, 2), FILE, lib)
    second = pol.submit_draft(sf, AUTHOR, D, bumped(lib, 3, new="insured_staff >= 20"), FILE, lib)
    pol.approve_draft(sf, REVIEWER, D, first.id, lib)
    with pytest.raises(Conflict, match="基于 v1"):
        pol.approve_draft(sf, REVIEWER, D, second.id, lib)
    assert "version: 2" in (lib / FILE).read_text(encoding="utf-8")


def test_a_draft_edited_in_the_database_after_submission_is_not_published(sf, lib: Path) -> None:  # type: ignore[no-untyped-def]
    import hashlib

    d = pol.submit_draft(sf, AUTHOR, D, bumped(lib, 2), FILE, lib)
    forged = bumped(lib, 2, new="insured_staff >= 1")
    with sf.begin() as s:  # an administrator rewrites the text and its hash alike
        s.execute(sa.text("UPDATE policy_drafts SET text = :t, sha256 = :h WHERE id = :i"),
                  {"t": forged, "h": hashlib.sha256(forged.encode()).hexdigest(), "i": d.id})
    with pytest.raises(Conflict, match="哈希"):
        pol.approve_draft(sf, REVIEWER, D, d.id, lib)
    assert ">= 10" in (lib / FILE).read_text(encoding="utf-8")


def test_nothing_outside_the_library_is_written(sf, lib: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(Invalid, match="政策库内"):
        pol.submit_draft(sf, AUTHOR, D, bumped(lib, 2), "../elsewhere.yaml", lib)
    d = pol.submit_draft(sf, AUTHOR, D, bumped(lib, 2), FILE, lib)
    with sf.begin() as s:
        s.execute(sa.text("UPDATE policy_drafts SET file = '../../evil.yaml' WHERE id = :i"), {"i": d.id})
    with pytest.raises(Invalid, match="政策库内"):
        pol.approve_draft(sf, REVIEWER, D, d.id, lib)
    assert not (tmp_path / "evil.yaml").exists()


def test_failing_cases_and_a_version_not_raised_are_refused_at_submission(sf, lib: Path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(Conflict, match="版本号须大于"):
        pol.submit_draft(sf, AUTHOR, D, bumped(lib, 1, new="insured_staff >= 20"), FILE, lib)
    with pytest.raises(Invalid, match="测试用例"):
        pol.submit_draft(sf, AUTHOR, D, bumped(lib, 2, new="insured_staff >= 50"), FILE, lib)
    with pytest.raises(Forbidden):
        pol.submit_draft(sf, AUDITOR, D, bumped(lib, 2), FILE, lib)


def test_rollback_is_a_new_reviewed_version_with_the_old_text(sf, lib: Path) -> None:  # type: ignore[no-untyped-def]
    pol.approve_draft(sf, REVIEWER, D, pol.submit_draft(sf, AUTHOR, D, bumped(lib, 2, new="insured_staff >= 20"),
                                                        FILE, lib).id, lib)
    with pytest.raises(NotFound):
        pol.rollback(sf, AUTHOR, D, "canji-jiuye", 7, FILE, lib)
    back = pol.rollback(sf, AUTHOR, D, "canji-jiuye", 1, FILE, lib)
    assert back.version == 3 and back.note == "回退到 v1 的内容"
    v1 = pol.versions(sf, AUTHOR, "canji-jiuye")[0].text
    assert pol.diff(D, v1, back.text) == [("版本号", "v1", "v3")]
    pol.approve_draft(sf, REVIEWER, D, back.id, lib)
    assert [v.version for v in pol.versions(sf, AUTHOR, "canji-jiuye")] == [1, 2, 3]
    assert ">= 10" in (lib / FILE).read_text(encoding="utf-8")


def test_the_diff_names_each_changed_item_in_chinese(lib: Path) -> None:
    old = (lib / FILE).read_text(encoding="utf-8")
    new = bumped(lib, 2, new="insured_staff >= 20").replace("title: ", "title: 修订", 1)
    rows = {item: (a, b) for item, a, b in pol.diff(D, old, new)}
    assert rows["版本号"] == ("v1", "v2")
    assert rows["政策名称"][1].startswith("修订")
    cond = next(k for k in rows if k.startswith("条件"))
    assert "不低于10" in rows[cond][0] and "不低于20" in rows[cond][1], rows[cond]
    assert load_policy_text(new, D, "x.yaml").version == 2


def test_a_draft_is_judged_against_the_version_it_replaces(sf, lib: Path) -> None:  # type: ignore[no-untyped-def]
    """Was (#37 item 1, high): the reviewer's impact was computed against wengang-fanhuan v1
    (retired, in archive/) instead of v2 (published): a cut of the rate from 60 % to 50 % showed as
    +1,670 enterprises and +6,136,087.58 元; the sandbox opened on the retired version."""
    from rules_engine.library.loader import load_library
    from ui.common import policy_by_id

    file = "employment/wengang-fanhuan.yaml"
    text = (lib / file).read_text(encoding="utf-8")
    cut = text.replace("version: 2", "version: 3").replace("label: 上年度裁员率", "label: 上一年度裁员率")
    assert cut != text
    d = pol.submit_draft(sf, AUTHOR, D, cut, lib / file, lib, "修订条件说明")
    old_text, replaced = pol.replaced(D, d, lib)
    assert old_text == text and replaced is not None and (replaced.version, replaced.status) == (2, "active")
    library = load_library(lib, D)
    assert [p.version for p in library.policies if p.id == "wengang-fanhuan"] == [1, 2]  # v1 found first
    best = policy_by_id(library.policies, "wengang-fanhuan")
    assert best is not None and (best.version, best.status) == (2, "active")
