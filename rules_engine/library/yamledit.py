"""Edit scalars of a policy's YAML text in place (the form beside the text, a version bump on
rollback): comments and layout survive, only the edited values change."""

from __future__ import annotations

from typing import Any

import yaml


def scalar_spans(text: str) -> dict[tuple[Any, ...], tuple[int, int, str]]:
    """Where each editable scalar sits in the YAML text: path -> (start, end, value). The form edits
    the text at these spans, so comments and layout survive."""
    try:
        root = yaml.compose(text)
    except yaml.YAMLError:
        return {}
    out: dict[tuple[Any, ...], tuple[int, int, str]] = {}
    if not isinstance(root, yaml.MappingNode):
        return out
    for k, v in root.value:
        if isinstance(v, yaml.ScalarNode):
            out[(k.value,)] = (v.start_mark.index, v.end_mark.index, v.value)
        if k.value == "conditions" and isinstance(v, yaml.SequenceNode):
            for i, item in enumerate(v.value):
                if isinstance(item, yaml.MappingNode):
                    for ck, cv in item.value:
                        if ck.value in ("when", "label") and isinstance(cv, yaml.ScalarNode):
                            out[("conditions", i, ck.value)] = (cv.start_mark.index, cv.end_mark.index, cv.value)
    return out


def _yaml_scalar(value: str) -> str:
    """A plain scalar where YAML reads it back as written, else a double-quoted one."""
    plain_ok = (value and value.strip() == value and ": " not in value and " #" not in value
                and value[0] not in "[]{}&*!|>'\"%@`#,?-" and "\n" not in value)
    if plain_ok:
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def edit_scalars(text: str, changes: dict[tuple[Any, ...], str]) -> str:
    """Apply form values to the YAML text in place, last span first so earlier offsets hold."""
    spans = scalar_spans(text)
    for path, new in sorted(changes.items(), key=lambda kv: -spans[kv[0]][0]):
        start, end, old = spans[path]
        if new != old:
            text = text[:start] + _yaml_scalar(new) + text[end:]
    return text


def with_version(text: str, version: int) -> str:
    """The text with its top-level `version:` set to `version`."""
    return edit_scalars(text, {("version",): str(version)})
