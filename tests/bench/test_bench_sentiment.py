"""``bench.sentiment`` at Size.TINY: throughput measured on the smoke texts when the
labelled samples are absent, the evaluation figures when they are present."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import sentiment
from bench.results import Size


async def test_sentiment_tiny_measures_throughput(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "sentiment_en.csv").write_text(
        "tweet_id,label,text\n1,negative,Worst support ever\n2,positive,Great help thanks\n"
        "3,neutral,Where is the invoice\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("CSHUB_SENTIMENT_EVAL_DIR", str(tmp_path))
    monkeypatch.setattr(sentiment, "data_dirs", lambda: [tmp_path])
    figures = {f.name: f for f in await sentiment.run(Size.TINY)}
    assert figures["sentiment en: negative precision"].value == 1.0
    assert figures["sentiment en: negative recall"].value == 1.0
    speed = figures["sentiment: texts classified per second, one core"]
    assert speed.value > 100 and speed.notes == ["labelled samples missing for: es"]
