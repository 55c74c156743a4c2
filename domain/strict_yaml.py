"""The one YAML loader of every file the hub reads (playbooks, health models, demo data,
e-mail subject files): ``yaml.safe_load``, except that a key given twice in one mapping
is an error naming the file, the line and the key.

PyYAML keeps the last of two equal keys without a word, so a second ``critical:`` block
pasted into ``playbooks/sla.yaml`` silently replaced the first (a 15-minute first
response became 10 hours). Parsing only: no I/O beyond reading the file asked for.
"""

from __future__ import annotations

from collections.abc import Hashable
from pathlib import Path
from typing import Any

import yaml

__all__ = ["DuplicateKeyError", "load_yaml_file", "load_yaml_text"]


class DuplicateKeyError(yaml.YAMLError):
    """A mapping gives the same key twice. A ``yaml.YAMLError``, so every caller that
    reports invalid YAML reports this too."""

    def __init__(self, source: str, key: object, line: int, first_line: int) -> None:
        self.source = source
        self.key = key
        self.line = line
        """1-based line of the second occurrence."""
        self.first_line = first_line
        super().__init__(str(self))

    @property
    def reason(self) -> str:
        return (
            f"key {self.key!r} given twice (lines {self.first_line} and {self.line}): "
            "YAML would silently keep only the last; remove or merge one"
        )

    def __str__(self) -> str:
        return f"{self.source}, line {self.line}: {self.reason}"


class _UniqueKeyLoader(yaml.SafeLoader):
    pass


def _construct_unique_mapping(
    loader: yaml.SafeLoader, node: yaml.MappingNode, deep: bool = False
) -> dict[Any, Any]:
    seen: dict[Hashable, int] = {}
    for key_node, _value in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            continue  # "<<: *defaults": keys given after it override on purpose
        key = loader.construct_object(key_node, deep=deep)
        if not isinstance(key, Hashable):
            continue  # safe_load refuses it with its own message
        line = key_node.start_mark.line + 1
        if key in seen:
            raise DuplicateKeyError(key_node.start_mark.name, key, line, seen[key])
        seen[key] = line
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_unique_mapping
)


def load_yaml_text(text: str, source: str | Path = "<text>") -> Any:
    """Parse ``text`` like ``yaml.safe_load``; a duplicated key raises
    :class:`DuplicateKeyError` naming ``source``, the line and the key."""
    loader = _UniqueKeyLoader(text)
    loader.name = str(source)  # what every mark (and so every message) names
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


def load_yaml_file(path: Path) -> Any:
    """Read and parse ``path`` (UTF-8), refusing duplicated keys."""
    return load_yaml_text(path.read_text(encoding="utf-8"), path)
