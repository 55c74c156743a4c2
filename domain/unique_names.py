"""Names that must not repeat in a playbook's list (a health model's dimensions and
metrics, an experiment's arms): which ones do, so the refusal can name them."""

from __future__ import annotations

from collections.abc import Iterable


def repeated(names: Iterable[str]) -> list[str]:
    """The names that stand more than once, each once, sorted: ``[]`` when all differ."""
    listed = list(names)
    return sorted({n for n in listed if listed.count(n) > 1})
