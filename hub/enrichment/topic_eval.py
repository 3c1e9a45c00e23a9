"""Evaluating topic assignment on labelled files: K examples per topic from a train file."""

import json
import random
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hub.enrichment.sentiment import Progress, embed_in_batches
from hub.errors import InvalidInput

if TYPE_CHECKING:
    from nlp.embedding import Embedder


def read_topic_labels(path: Path) -> list[dict[str, Any]]:
    """Records ``{text, label}`` or ``{text, labels: [...]}`` of a JSONL file, labels as a list."""
    records = []
    for number, line in enumerate(path.read_text("utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
            labels = raw["labels"] if "labels" in raw else [raw["label"]]
            text = raw["text"]
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise InvalidInput(
                f"{path}:{number}: expected {{text, label}} or {{text, labels}}"
            ) from exc
        if not isinstance(text, str) or not all(isinstance(label, str | int) for label in labels):
            raise InvalidInput(f"{path}:{number}: text must be a string and labels strings")
        records.append(
            {
                "text": text,
                "labels": [str(label) for label in labels],
                "language": raw.get("language"),
            }
        )
    return records


def evaluate_topics(
    embedder: "Embedder",
    test: Sequence[dict[str, Any]],
    train: Sequence[dict[str, Any]],
    *,
    shots: int,
    seed: int = 13,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Top-1 accuracy and micro-F1 (best topic + margin rule, fitted on ``train``) on ``test``."""
    import numpy as np

    from nlp.topics import TopicAssigner, TopicSpec, fit_floor_and_margin, micro_f1, select

    by_label: dict[str, list[str]] = {}
    for record in train:
        for label in record["labels"]:
            by_label.setdefault(label, []).append(record["text"])
    rng = random.Random(seed)  # noqa: S311 (sampling examples, not secrets)
    specs = [
        TopicSpec(label, tuple(rng.sample(texts, min(shots, len(texts)))))
        for label, texts in sorted(by_label.items())
    ]
    assigner = TopicAssigner(embedder, specs, floor=-1.0, margin=0.0)
    keys = {key: i for i, key in enumerate(assigner.keys)}

    def gold_of(records: Sequence[dict[str, Any]]) -> np.ndarray:
        gold = np.zeros((len(records), len(keys)), dtype=bool)
        for row, record in enumerate(records):
            for label in record["labels"]:
                if label in keys:
                    gold[row, keys[label]] = True
        return gold

    fit_on = [r for r in train if r["text"] not in {t for s in specs for t in s.examples}]
    fit_scores = assigner.scores(embed_in_batches(embedder, [r["text"] for r in fit_on]))
    floor, margin, _ = fit_floor_and_margin(fit_scores, gold_of(fit_on))
    scores = assigner.scores(
        embed_in_batches(embedder, [r["text"] for r in test], progress=progress)
    )
    gold = gold_of(test)
    labelled = gold.any(axis=1)
    top1 = float(gold[labelled, scores[labelled].argmax(axis=1)].mean()) if labelled.any() else 0.0
    return {
        "top1_accuracy": round(top1, 4),
        "micro_f1": round(micro_f1(select(scores, floor, margin), gold), 4),
        "n": len(test),
        "topics": len(keys),
        "shots": shots,
        "floor": round(floor, 4),
        "margin": margin,
    }


def calibrate_on_demo(embedder: "Embedder") -> dict[str, Any]:
    """The topic floor and margin for ``embedder``, fitted on the labelled demo set.

    Fitted on every item of ``hub/demo/data/topic_labels.json`` against the shipped taxonomy's
    examples; ``held_out_micro_f1`` is the fit on even items scored on odd ones and back (how
    well the rule carries to items it was not fitted on).
    """
    import numpy as np

    from hub.demo.loader import demo_items
    from nlp.topics import TopicAssigner, TopicSpec, fit_floor_and_margin, micro_f1, select

    here = Path(__file__).resolve().parents[1]
    taxonomy = json.loads((here / "topics" / "taxonomy.json").read_text("utf-8"))
    labels = json.loads((here / "demo" / "data" / "topic_labels.json").read_text("utf-8"))
    specs = [
        TopicSpec(t["key"], tuple(p for phrases in t["examples"].values() for p in phrases))
        for t in taxonomy
    ]
    assigner = TopicAssigner(embedder, specs, floor=-1.0, margin=0.0)
    items = demo_items()
    texts = [". ".join(p for p in (i.get("title"), i.get("text")) if p) for i in items]
    scores = assigner.scores(embed_in_batches(embedder, texts))
    gold = np.zeros(scores.shape, dtype=bool)
    for row, item in enumerate(items):
        for key in labels[item["external_id"]]:
            gold[row, assigner.keys.index(key)] = True
    halves = (np.arange(0, len(items), 2), np.arange(1, len(items), 2))
    held_out = []
    for fit_on, check_on in (halves, halves[::-1]):
        floor, margin, _ = fit_floor_and_margin(scores[fit_on], gold[fit_on])
        held_out.append(round(micro_f1(select(scores[check_on], floor, margin), gold[check_on]), 3))
    floor, margin, f1 = fit_floor_and_margin(scores, gold)
    return {
        "floor": round(floor, 4),
        "margin": margin,
        "micro_f1": round(f1, 3),
        "held_out_micro_f1": held_out,
    }
