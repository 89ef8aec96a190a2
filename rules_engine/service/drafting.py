"""政策拆解 through the service layer: an official uploads a policy document and gets draft
rules to check; submitting one goes through `policies.submit_draft` (two-person review)."""

from __future__ import annotations

from ..data.tags import TagDictionary
from ..drafting.draft import DraftDocument, Drafter
from ..drafting.reader import read_document
from . import clock
from .actors import Actor, require

_DRAFTERS: dict[int, tuple[TagDictionary, Drafter]] = {}


def _drafter(dictionary: TagDictionary) -> Drafter:
    """The vocabulary is built once per dictionary (its labels, the synonym list, industries)."""
    hit = _DRAFTERS.get(id(dictionary))
    if hit is None or hit[0] is not dictionary:
        hit = (dictionary, Drafter(dictionary))
        _DRAFTERS[id(dictionary)] = hit
    return hit[1]


def draft_document(actor: Actor, dictionary: TagDictionary, data: bytes, name: str) -> DraftDocument:
    """Drafts from a document's bytes (text, .docx, .pdf with a text layer); `DocumentError`
    says why a file cannot be read. Nothing is written: the official checks and submits."""
    require(actor, "policy.draft")
    return _drafter(dictionary).draft(read_document(data, name), clock.today())
