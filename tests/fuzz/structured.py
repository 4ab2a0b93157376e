"""Structure-aware inputs for the JSON targets: a seed document with some of its values
replaced, keys dropped or added, as the fuzzer's bytes choose.

Byte-level mutation of a JSON body mostly breaks the syntax, so the parser refuses it before
any rule after it runs; a type in the wrong place (`"visual": [1]` where an object belongs),
an over-long list or a value nested 2000 deep inside a valid body is a rare find. Here the
fuzzer's bytes are read as choices instead: which seed, which place in it, what goes there.
Coverage still guides which choices are kept.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from itertools import islice
from typing import Any

_INTS = (0, -1, 1, 255, 2**31 - 1, 2**31, 2**53 + 1, 2**63, -(2**63) - 1, 10**30)
_FLOATS = (0.5, -0.0, 1e308, 1e-320, 3.0)
_LENGTHS = (1, 16, 255, 256, 2000, 2049, 4097, 70_000)
_DEEP = re.compile(rb'"@@deep:(\d+):(\d)@@"')


class Choices:
    """The fuzzer's bytes as a stream of small choices (zeros once they run out)."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.at = 0

    def below(self, count: int) -> int:
        if self.at >= len(self.data):
            return 0
        self.at += 1
        return self.data[self.at - 1] % count

    def text(self) -> str:
        size = self.below(64)
        piece = self.data[self.at : self.at + size]
        self.at += size
        return piece.decode("utf-8", "replace")


def _places(node: Any, found: list[tuple[Any, Any]]) -> None:
    """The (container, key or index) places of the document, depth first; the first 16 of a
    container only (the rest of a long list is the fuzzer's own repetition)."""
    if not isinstance(node, dict | list):
        return
    items = node.items() if isinstance(node, dict) else enumerate(node)
    for key, child in list(islice(items, 16)):
        found.append((node, key))
        _places(child, found)


def _value(choices: Choices, names: Sequence[str], nodes: list[Any], depth: int = 0) -> Any:
    kind = choices.below(15)
    if depth > 2 and kind >= 8:
        kind = choices.below(8)
    values: dict[int, Any] = {
        0: None,
        1: bool(choices.below(2)),
        2: _INTS[choices.below(len(_INTS))],
        3: _FLOATS[choices.below(len(_FLOATS))],
        5: "",
        6: [],
        7: {},
    }
    if kind in values:
        return values[kind]
    if kind == 4:
        return choices.text()
    if kind == 8:
        return [_value(choices, names, nodes, depth + 1) for _ in range(choices.below(4))]
    if kind == 9:
        key = names[choices.below(len(names))] if names else choices.text()
        return {key: _value(choices, names, nodes, depth + 1)}
    if kind == 10:  # nested 50 to 1500 deep: a placeholder, written out after serializing
        return f"@@deep:{50 * (1 + choices.below(30))}:{choices.below(2)}@@"
    if kind == 11 and nodes:  # another field's value: type confusion between fields
        return json.loads(json.dumps(nodes[choices.below(len(nodes))]))
    if kind == 12:
        return "x" * _LENGTHS[choices.below(len(_LENGTHS))]
    if kind == 13 and nodes:  # serialized JSON in a string (data, payload, pushToken)
        return json.dumps(nodes[choices.below(len(nodes))])
    # One plain value many times (over a list's limit); depth + 3: no long or nested item.
    return [_value(choices, names, nodes, depth + 3)] * _LENGTHS[choices.below(4)]


def _deep(match: re.Match[bytes]) -> bytes:
    depth, shape = int(match.group(1)), match.group(2)
    if shape == b"0":
        return b"[" * depth + b"]" * depth
    return b'{"a":' * depth + b"null" + b"}" * depth


def mutated(data: bytes, documents: Sequence[Any], names: Sequence[str]) -> bytes:
    """A body built from one of the seed documents (parsed JSON) and the fuzzer's choices."""
    choices = Choices(data)
    document = json.loads(json.dumps(documents[choices.below(len(documents))]))
    for _ in range(1 + choices.below(4)):
        places: list[tuple[Any, Any]] = []
        _places(document, places)
        nodes = [container[key] for container, key in places]
        if not places or choices.below(8) == 0:
            document = _value(choices, names, nodes)
            continue
        container, key = places[choices.below(len(places))]
        action = choices.below(4)
        if action == 0 and isinstance(container, dict):
            del container[key]
        elif action == 1 and isinstance(container, dict) and names:
            container[names[choices.below(len(names))]] = _value(choices, names, nodes)
        else:
            container[key] = _value(choices, names, nodes)
    text = json.dumps(document, ensure_ascii=bool(choices.below(2))).encode()
    return _DEEP.sub(_deep, text)
