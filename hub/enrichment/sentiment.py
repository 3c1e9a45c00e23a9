"""Training the sentiment head and evaluating sentiment models on labelled files."""

import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlmodel import Session, col, select

from hub.feedback.models import Feedback
from hub.store.types import utcnow

if TYPE_CHECKING:
    import numpy as np

    from nlp.embedding import Embedder
    from nlp.sentiment import Sentiment, SentimentClassifier

Progress = Callable[[int], None]


def corrected_examples(session: Session) -> list[dict[str, Any]]:
    """Feedback whose sentiment a person set, as labelled examples."""
    query = select(Feedback.title, Feedback.text, Feedback.sentiment, Feedback.language).where(
        Feedback.sentiment_by == "person", col(Feedback.sentiment).is_not(None)
    )
    return [
        {"text": ". ".join(p for p in (title, text) if p), "label": label, "language": language}
        for title, text, label, language in session.exec(query)
        if title or text
    ]


def train_head(
    embedder: "Embedder",
    records: Sequence[dict[str, Any]],
    *,
    out: Path,
    sources: list[str],
    l2: float = 1e-3,
    val: Mapping[str, Sequence[dict[str, Any]]] | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Fit a head on ``records`` ({text, label, language?}), save it and its card; the card.

    ``val`` (name -> records) is scored after training: macro-F1 x 100 per name, in the card.
    """
    from nlp.sentiment import LinearHead, evaluate

    vectors = embed_in_batches(embedder, [r["text"] for r in records], progress=progress)
    head = LinearHead(embedder.name).fit(vectors, [r["label"] for r in records], l2=l2)
    scores = {}
    for name, held in (val or {}).items():
        held_vectors = embed_in_batches(embedder, [r["text"] for r in held], progress=progress)
        predicted = [s.label for s in head.classify(held_vectors)]
        f1 = evaluate([r["label"] for r in held], predicted)["overall"]["macro_f1"]
        scores[name] = round(f1 * 100, 2)
    card = {
        "data": sources,
        "examples": len(records),
        "created": utcnow().isoformat(),
        "val_macro_f1": scores,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    head.save(out, card)
    return {**card, "labels": list(head.labels)}


def evaluate_model(
    embedder: "Embedder",
    sentiment: "SentimentClassifier",
    files: Mapping[str, Sequence[dict[str, Any]]],
    *,
    size: int = 64,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Accuracy and macro-F1 of a sentiment model per file, and its speed.

    Returns ``{"files": {name: {accuracy, macro_f1, n, classes}}, "by_language": {...},
    "texts_per_second": float}`` (the speed of the model call: embedding + classification).
    """
    from nlp.sentiment import evaluate

    scored: dict[str, Any] = {}
    gold: list[str] = []
    predicted: list[str] = []
    languages: list[str] = []
    seconds = 0.0
    for name, records in files.items():
        texts = [r["text"] for r in records]
        labels: list[str] = []
        for start in range(0, len(texts), size):
            batch = texts[start : start + size]
            began = time.perf_counter()
            labels += [s.label for s in classify_texts(embedder, sentiment, batch)]
            seconds += time.perf_counter() - began
            if progress:
                progress(len(batch))
        scored[name] = evaluate([r["label"] for r in records], labels)["overall"]
        gold += [r["label"] for r in records]
        predicted += labels
        languages += [r.get("language") or "unknown" for r in records]
    by_language = evaluate(gold, predicted, languages)["by_language"] if gold else {}
    rate = len(gold) / seconds if seconds else 0.0
    return {"files": scored, "by_language": by_language, "texts_per_second": rate}


def classify_texts(
    embedder: "Embedder", sentiment: "SentimentClassifier", texts: Sequence[str]
) -> list["Sentiment"]:
    """Sentiments of ``texts`` as the worker computes them (sharing its embedding pass)."""
    vectors = embedder.embed(texts) if getattr(sentiment, "shared", False) else None
    return sentiment.classify(texts, vectors)


def embed_in_batches(
    embedder: "Embedder", texts: Sequence[str], *, size: int = 256, progress: Progress | None = None
) -> "np.ndarray":
    """Embeddings of many texts, reporting progress after each batch."""
    import numpy as np

    parts = []
    for start in range(0, len(texts), size):
        batch = texts[start : start + size]
        parts.append(embedder.embed(batch))
        if progress:
            progress(len(batch))
    return np.concatenate(parts) if parts else np.zeros((0, embedder.dimension), np.float32)
