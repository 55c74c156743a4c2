"""MkDocs hook (mkdocs.yml, ``hooks:``): links from a page to the repository's own files.

The pages under docs/ read on GitHub as they are, where a link such as
``[webhooks/aggregate.py](../webhooks/aggregate.py)`` opens the file. The site holds only
docs/, so MkDocs' strict build would refuse that link as "not found". Before each page is
converted, a relative link whose target is outside docs/ and exists in the repository (a
file or a folder) becomes its text, with the path in code when the text does not show it:
the site names the file, GitHub keeps the link. A link to something that exists nowhere
is left alone, so the strict build still fails on it, as on any broken link between pages.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

LINK = re.compile(r"(?<!!)\[(?P<text>[^\]\n]+)\]\((?P<target>[^)\s]+)\)")
FENCE = re.compile(r"^\s*(```|~~~)")


def outside_link_text(text: str, target: str, page_dir: Path, docs_dir: Path) -> str | None:
    """What a link to a repository file outside docs/ becomes (``None``: keep the link)."""
    if re.match(r"[a-z][a-z0-9+.-]*:", target) or target.startswith(("#", "/")):
        return None  # a URL, an anchor on the page, or an absolute path
    path = target.split("#", 1)[0]
    # normpath, not resolve(): a page linked through a symlink in docs/ (security.md)
    # is a page of the site, not the file the symlink points to.
    resolved = Path(os.path.normpath(page_dir / path))
    repo = docs_dir.parent
    if resolved.is_relative_to(docs_dir) or not resolved.is_relative_to(repo):
        return None
    if not resolved.exists():
        return None  # broken: the strict build reports it
    shown = resolved.relative_to(repo).as_posix() + ("/" if resolved.is_dir() else "")
    if shown.rstrip("/") in text:
        return text
    return f"{text} (`{shown}`)"


def rewrite(markdown: str, page_dir: Path, docs_dir: Path) -> str:
    out = []
    fenced = False
    for line in markdown.split("\n"):
        if FENCE.match(line):
            fenced = not fenced
        if not fenced:

            def replace(m: re.Match[str]) -> str:
                new = outside_link_text(m["text"], m["target"], page_dir, docs_dir)
                return m[0] if new is None else new

            line = LINK.sub(replace, line)
        out.append(line)
    return "\n".join(out)


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    docs_dir = Path(os.path.normpath(os.path.abspath(config["docs_dir"])))
    # The page's folder inside docs/ (not a symlink's target: SECURITY.md is served as
    # docs/security.md and its links are read from there, as on GitHub's docs/ view).
    page_dir = (docs_dir / page.file.src_uri).parent
    return rewrite(markdown, page_dir, docs_dir)
