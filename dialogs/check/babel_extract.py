"""Babel extractor for the check's content YAML: every user-visible text becomes a catalog msgid.

Use it in babel.cfg with the mapping line::

    [dialogs.check.babel_extract.extract_check_yaml: **/check/*.yaml]

(dotted, not ``module:function``: Babel splits a mapping section header at its first colon, so a
colon inside the method name would cut it apart and the pattern would match nothing).

A text is the string value of a key in :data:`TEXT_KEYS` anywhere in the file. Each message carries
the id of its item ("id: metal.weld") as a translator comment, so translators see where it appears.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping
from pathlib import Path
from typing import IO, Any

import yaml

__all__ = ["TEXT_KEYS", "extract_check_yaml", "extract_msgids"]

#: Keys whose string values are user-visible (msgids); everything else is ids, emoji, numbers, paths.
TEXT_KEYS = frozenset({"text", "name", "hint", "title", "prompt"})

# Keys that only hold lists of items; they add nothing to a translator comment.
_CONTAINERS = frozenset({"fields", "tasks", "interests", "questions", "sections", "options"})
_STR_TAG = "tag:yaml.org,2002:str"

Message = tuple[int, str | None, str, list[str]]


def extract_check_yaml(
    fileobj: IO[bytes],
    keywords: Collection[str],
    comment_tags: Collection[str],
    options: Mapping[str, Any],
) -> Iterator[Message]:
    """Babel extraction method: yield ``(lineno, funcname, message, comments)`` per text, in file order."""
    encoding = str(options.get("encoding", "utf-8"))
    source = fileobj.read()
    text = source.decode(encoding) if isinstance(source, bytes) else source
    root = yaml.compose(text, Loader=yaml.SafeLoader)
    if root is not None:
        yield from _walk(root, [])


def extract_msgids(path: Path | str) -> list[str]:
    """All msgids of a content file, in file order, repeats included (for tests and tooling)."""
    with Path(path).open("rb") as fh:
        return [message for _, _, message, _ in extract_check_yaml(fh, (), (), {})]


def _walk(node: yaml.Node, labels: list[str]) -> Iterator[Message]:
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = key_node.value
            if key in TEXT_KEYS and isinstance(value_node, yaml.ScalarNode) and value_node.tag == _STR_TAG:
                if value_node.value:
                    where = labels if key == "text" else [*labels, key]
                    yield value_node.start_mark.line + 1, None, value_node.value, [f"id: {_label(where)}"]
            else:
                yield from _walk(value_node, labels if key in _CONTAINERS else [*labels, str(key)])
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            item_id = _item_id(item)
            yield from _walk(item, labels if item_id is None else [*labels, item_id])


def _item_id(node: yaml.Node) -> str | None:
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            if key_node.value == "id" and isinstance(value_node, yaml.ScalarNode):
                return str(value_node.value)
    return None


def _label(labels: list[str]) -> str:
    # "metal" then "metal.weld" → "metal.weld": item ids already carry their parent's id.
    kept = [
        label
        for i, label in enumerate(labels)
        if i + 1 >= len(labels) or not labels[i + 1].startswith(f"{label}.")
    ]
    return ".".join(kept)
