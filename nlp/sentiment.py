"""Sentiment: negative / neutral / positive from frozen sentence embeddings, by a linear head.

The head is multinomial logistic regression trained on the embeddings of one embedder (numpy
only, deterministic). A head only makes sense on vectors from the embedder it was trained on:
it records that embedder's name and callers must refuse any other (:meth:`check_embedder`).
A head trained without neutral examples predicts only negative and positive.
"""

import json
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

import numpy as np

if TYPE_CHECKING:
    from nlp.embedding import Embedder

LABELS = ("negative", "neutral", "positive")
HEADS = Path(__file__).parent / "heads"  # heads trained for the shipped embedders
SHIPPED_MODEL = Path(__file__).parent / "models" / "sentiment"  # the fine-tuned default
FORMAT = "feedback-hub/sentiment-head/1"


@dataclass(frozen=True, slots=True)
class Sentiment:
    """The sentiment of one text."""

    label: str
    score: float  # P(positive) - P(negative), in [-1, 1]
    confidence: float  # probability of the label


class SentimentClassifier(Protocol):
    """Texts (and the pipeline's embeddings of them) in, one :class:`Sentiment` per text out."""

    name: str

    def classify(self, texts: Sequence[str], vectors: np.ndarray | None) -> list[Sentiment]:
        """One sentiment per text, in order; ``vectors`` are the pipeline embedder's, if any."""
        ...


class HeadSentiment:
    """A :class:`LinearHead` on an embedder's vectors: the pipeline's own (``shared``: one
    forward pass for topics and sentiment) or its embedder's, embedded here."""

    def __init__(self, head: "LinearHead", embedder: "Embedder", *, shared: bool = False) -> None:
        head.check_embedder(embedder.name)
        self.head, self.embedder, self.shared = head, embedder, shared
        self.name = head.name

    def classify(self, texts: Sequence[str], vectors: np.ndarray | None) -> list[Sentiment]:
        """One sentiment per text, in order."""
        if not self.shared or vectors is None:
            vectors = self.embedder.embed(texts)
        return self.head.classify(vectors)


def is_finetuned_dir(path: Path) -> bool:
    """Whether ``path`` holds a model written by ``nlp fine-tune-sentiment`` (has its card)."""
    return (Path(path) / "card.json").is_file()


class LinearHead:
    """Softmax regression on unit-length embeddings, for the labels it was trained on.

    ``fit`` minimises the class-weighted mean cross-entropy plus ``l2 / 2 * |W|^2`` (the bias
    is not penalised) by full-batch accelerated gradient descent with adaptive restart, from
    zero weights: the same data give the same weights. Inputs are centred during training
    only to speed it up; the centre is folded into the bias, so the model is ``x @ W + b``.
    """

    def __init__(self, embedder_name: str) -> None:
        if not embedder_name:
            raise ValueError("a sentiment head needs the name of the embedder it is trained on")
        self.embedder_name = embedder_name
        self.name = f"linear-head[{embedder_name}]"
        self.labels: tuple[str, ...] = ()
        self.weights = np.zeros((0, 0), dtype=np.float32)
        self.bias = np.zeros(0, dtype=np.float32)
        self.trained_at = ""
        self.training: dict[str, Any] = {}

    @property
    def dimension(self) -> int:
        """The embedding dimension the head reads (0 before ``fit``)."""
        return int(self.weights.shape[0])

    def fit(
        self,
        vectors: np.ndarray,
        labels: Sequence[str],
        *,
        l2: float = 1e-3,
        epochs: int = 2000,
        tol: float = 1e-6,
        class_weight: Literal["balanced"] | None = "balanced",
    ) -> "LinearHead":
        """Train on ``vectors`` (one row per text) and their labels; returns the head.

        ``epochs`` caps the full-batch steps; training stops earlier once no gradient entry
        exceeds ``tol``. ``balanced`` weighs each class by ``n / (classes * count)``.
        """
        x = _as_matrix(vectors)
        if len(x) != len(labels):
            raise ValueError(f"{len(x)} vectors but {len(labels)} labels")
        unknown = sorted(set(labels) - set(LABELS))
        if unknown:
            raise ValueError(f"unknown sentiment labels {unknown}; expected some of {LABELS}")
        present = tuple(label for label in LABELS if label in set(labels))
        if len(present) < 2:
            raise ValueError(f"training needs at least two sentiment classes, got {present}")
        if l2 <= 0 or epochs < 1:
            raise ValueError("l2 and epochs must be positive")
        if class_weight not in ("balanced", None):
            raise ValueError(f"class_weight must be 'balanced' or None, not {class_weight!r}")

        index = {label: i for i, label in enumerate(present)}
        y = np.array([index[label] for label in labels])
        counts = np.bincount(y, minlength=len(present))
        per_class = len(y) / (len(present) * counts) if class_weight else np.ones(len(present))
        sample = per_class[y] / per_class[y].sum()  # sums to 1: a weighted mean of the losses
        weights, bias, steps, converged = _train(x, y, sample, len(present), l2, epochs, tol)

        self.labels = present
        self.weights = weights.astype(np.float32)
        self.bias = bias.astype(np.float32)
        self.trained_at = datetime.now(UTC).isoformat(timespec="seconds")
        self.training = {
            "examples": dict(zip(present, counts.tolist(), strict=True)),
            "l2": l2,
            "class_weight": class_weight,
            "epochs": steps,
            "converged": converged,
        }
        return self

    def predict_proba(self, vectors: np.ndarray) -> np.ndarray:
        """Probabilities, shape ``(rows, len(self.labels))``, columns in ``self.labels`` order."""
        if not self.labels:
            raise ValueError("the sentiment head is not trained: call fit() or load()")
        x = _as_matrix(vectors, self.dimension)
        return _softmax(x @ self.weights.astype(np.float64) + self.bias)

    def classify(self, vectors: np.ndarray) -> list[Sentiment]:
        """The most probable label per row, its probability, and P(positive) - P(negative)."""
        proba = self.predict_proba(vectors)
        zero = np.zeros(len(proba))
        positive = proba[:, self.labels.index("positive")] if "positive" in self.labels else zero
        negative = proba[:, self.labels.index("negative")] if "negative" in self.labels else zero
        best = proba.argmax(axis=1)
        return [
            Sentiment(label=self.labels[b], score=float(pos - neg), confidence=float(row[b]))
            for b, pos, neg, row in zip(best, positive, negative, proba, strict=True)
        ]

    def check_embedder(self, name: str) -> None:
        """Refuse vectors from an embedder other than the one the head was trained on."""
        if name != self.embedder_name:
            raise ValueError(
                f"this sentiment head was trained on {self.embedder_name!r} embeddings and "
                f"cannot read {name!r} embeddings: use that embedder or train a new head"
            )

    def save(self, path: Path, card: dict[str, Any]) -> None:
        """Write the head to ``path`` (``.npz``) and its data card to ``path.with_suffix('.json')``.

        The card is ``card`` plus the embedder, dimension, labels, training time and settings.
        """
        path = Path(path)
        if path.suffix != ".npz":
            raise ValueError(f"a sentiment head is saved as a .npz file, not {path.name!r}")
        if not self.labels:
            raise ValueError("the sentiment head is not trained: nothing to save")
        facts = {
            "embedder": self.embedder_name,
            "dimension": self.dimension,
            "labels": list(self.labels),
            "trained_at": self.trained_at,
            "training": self.training,
        }
        card_text = json.dumps({**card, **facts}, indent=2, ensure_ascii=False) + "\n"
        partial = path.with_name(path.name + ".partial")
        try:
            with partial.open("wb") as handle:
                np.savez(
                    handle,
                    format=np.array(FORMAT),
                    weights=self.weights,
                    bias=self.bias,
                    labels=np.array(self.labels),
                    embedder=np.array(self.embedder_name),
                    trained_at=np.array(self.trained_at),
                    training=np.array(json.dumps(self.training)),
                )
            os.replace(partial, path)  # a reader never sees half a file
        finally:
            partial.unlink(missing_ok=True)
        path.with_suffix(".json").write_text(card_text, encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> "LinearHead":
        """Read a head written by :meth:`save`; ValueError if it is missing or malformed."""
        path = Path(path)
        if not path.is_file():
            raise ValueError(f"no sentiment head at {path}")
        try:
            with np.load(path, allow_pickle=False) as data:
                fields = {key: data[key] for key in data.files}
        except Exception as exc:  # numpy raises many kinds on a damaged or foreign file
            raise ValueError(f"{path} is not a readable sentiment head file: {exc}") from exc
        if str(fields.get("format", "")) != FORMAT:
            raise ValueError(f"{path} is not a sentiment head file (format {FORMAT} expected)")
        try:
            head = cls(str(fields["embedder"]))
            labels = tuple(str(label) for label in fields["labels"])
            weights = np.asarray(fields["weights"], dtype=np.float32)
            bias = np.asarray(fields["bias"], dtype=np.float32)
            head.trained_at = str(fields["trained_at"])
            head.training = json.loads(str(fields["training"]))
        except (KeyError, ValueError, TypeError) as exc:
            raise ValueError(f"{path} is a damaged sentiment head file: {exc}") from exc
        if (
            len(labels) < 2
            or labels != tuple(label for label in LABELS if label in labels)
            or weights.ndim != 2
            or weights.shape[1] != len(labels)
            or bias.shape != (len(labels),)
            or not (np.isfinite(weights).all() and np.isfinite(bias).all())
        ):
            raise ValueError(f"{path} is a damaged sentiment head file (labels or weights)")
        head.labels, head.weights, head.bias = labels, weights, bias
        return head


def evaluate(
    gold: Sequence[str], predicted: Sequence[str], languages: Sequence[str] | None = None
) -> dict[str, Any]:
    """Accuracy and macro-F1, overall and per language.

    Macro-F1 averages over the classes present in the group's gold labels: a binary file (only
    negative and positive) is scored on those two, and a neutral prediction there is a miss.
    Each group reports ``accuracy``, ``macro_f1``, ``n`` and the scored ``classes``.
    """
    if len(gold) != len(predicted) or (languages is not None and len(languages) != len(gold)):
        raise ValueError("gold, predicted and languages must have the same length")
    if not gold:
        raise ValueError("nothing to evaluate: no gold labels")
    unknown = sorted(set(gold).union(predicted) - set(LABELS))
    if unknown:
        raise ValueError(f"unknown sentiment labels {unknown}; expected some of {LABELS}")
    by_language: dict[str, dict[str, Any]] = {}
    if languages is not None:
        for language in sorted(set(languages)):
            rows = [i for i, value in enumerate(languages) if value == language]
            by_language[language] = _scores([gold[i] for i in rows], [predicted[i] for i in rows])
    return {"overall": _scores(gold, predicted), "by_language": by_language}


def read_labelled(paths: Sequence[Path]) -> list[dict[str, Any]]:
    """Labelled texts from JSON Lines files: ``{"text": ..., "label": ..., "language": ...}``.

    Labels are ``negative``, ``neutral`` or ``positive`` in any case; a label that is a JSON
    integer may also be 0, 1 or 2 for those three (the string ``"1"`` is refused). ``language``
    is optional. Blank lines are skipped; other fields are ignored. Each record comes back as
    ``{"text", "label", "language"}`` (language None when absent). A bad line raises a
    ValueError naming its file and line.
    """
    records: list[dict[str, Any]] = []
    for path in map(Path, paths):
        try:
            lines = path.read_bytes().splitlines()
        except OSError as exc:
            raise ValueError(f"cannot read labelled file {path}: {exc.strerror}") from exc
        for number, raw in enumerate(lines, start=1):
            where = f"{path}:{number}"
            try:
                line = raw.decode("utf-8-sig" if number == 1 else "utf-8")
            except UnicodeDecodeError as exc:
                raise ValueError(f"{where}: not UTF-8 text") from exc
            if line.strip():
                records.append(_record(line, where))
    return records


def _record(line: str, where: str) -> dict[str, Any]:
    try:
        item = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{where}: not valid JSON ({exc.msg})") from exc
    if not isinstance(item, dict):
        raise ValueError(f"{where}: expected a JSON object with text and label")
    text = item.get("text")
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"{where}: missing or empty 'text'")
    label = item.get("label")
    if isinstance(label, int) and not isinstance(label, bool) and 0 <= label < len(LABELS):
        label = LABELS[label]
    elif isinstance(label, str) and label.strip().lower() in LABELS:
        label = label.strip().lower()
    elif label is None:
        raise ValueError(f"{where}: missing 'label'")
    else:
        raise ValueError(f"{where}: unknown label {label!r}; expected one of {LABELS} (or 0/1/2)")
    language = item.get("language")
    if language is not None and not isinstance(language, str):
        raise ValueError(f"{where}: 'language' must be a string")
    return {"text": text, "label": label, "language": (language or "").strip().lower() or None}


def _scores(gold: Sequence[str], predicted: Sequence[str]) -> dict[str, Any]:
    classes = [label for label in LABELS if label in set(gold)]
    pairs = list(zip(gold, predicted, strict=True))
    f1s = []
    for label in classes:
        hits = sum(1 for g, p in pairs if g == p == label)
        wanted = sum(1 for g, _ in pairs if g == label)
        found = sum(1 for _, p in pairs if p == label)
        f1s.append(2 * hits / (wanted + found))  # wanted > 0, so never 0 / 0
    return {
        "accuracy": sum(1 for g, p in pairs if g == p) / len(pairs),
        "macro_f1": sum(f1s) / len(f1s),
        "n": len(pairs),
        "classes": classes,
    }


def _as_matrix(vectors: np.ndarray, dimension: int | None = None) -> np.ndarray:
    x = np.asarray(vectors, dtype=np.float64)
    if x.ndim != 2 or (dimension is not None and x.shape[1] != dimension):
        expected = f"(rows, {dimension})" if dimension is not None else "(rows, dimension)"
        raise ValueError(f"expected vectors of shape {expected}, got {x.shape}")
    if not np.isfinite(x).all():
        raise ValueError("vectors contain NaN or infinite values")
    return x


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    probabilities: np.ndarray = shifted / shifted.sum(axis=1, keepdims=True)
    return probabilities


def _train(
    x: np.ndarray,
    y: np.ndarray,
    sample: np.ndarray,
    classes: int,
    l2: float,
    epochs: int,
    tol: float,
) -> tuple[np.ndarray, np.ndarray, int, bool]:
    """Weights and bias minimising the weighted cross-entropy; also the steps run, converged.

    After weighted centring the loss's curvature is bounded by ``C / 2 + l2`` for the weights
    (``C`` the top eigenvalue of the weighted covariance) and ``1 / 2`` for the bias, which
    gives each block its own safe step. Nesterov momentum restarts when the gradient turns
    against it (O'Donoghue & Candès, 2015).
    """
    centre = sample @ x
    xc = (x - centre).astype(np.float32)  # products in float32 run 3-4x faster; sums in float64
    xt = np.ascontiguousarray(xc.T)
    covariance = xt @ (xc * sample[:, None].astype(np.float32))
    step_w = 1.0 / (0.5 * float(np.linalg.eigvalsh(covariance.astype(np.float64))[-1]) + l2)
    step_b = 2.0
    onehot = np.eye(classes)[y]
    w, b = np.zeros((x.shape[1], classes)), np.zeros(classes)
    w_ahead, b_ahead, momentum = w, b, 1.0
    for step in range(1, epochs + 1):
        logits = (xc @ w_ahead.astype(np.float32)).astype(np.float64) + b_ahead
        residual = (_softmax(logits) - onehot) * sample[:, None]
        grad_w = (xt @ residual.astype(np.float32)).astype(np.float64) + l2 * w_ahead
        grad_b = residual.sum(axis=0)
        if max(np.abs(grad_w).max(), np.abs(grad_b).max()) < tol:
            return w_ahead, b_ahead - centre @ w_ahead, step, True
        w_next, b_next = w_ahead - step_w * grad_w, b_ahead - step_b * grad_b
        if float(np.sum(grad_w * (w_next - w)) + grad_b @ (b_next - b)) > 0:
            momentum = 1.0  # restart: momentum was pushing uphill
        following = (1 + (1 + 4 * momentum**2) ** 0.5) / 2
        carry = (momentum - 1) / following
        w_ahead, b_ahead = w_next + carry * (w_next - w), b_next + carry * (b_next - b)
        w, b, momentum = w_next, b_next, following
    return w, b - centre @ w, epochs, False


def shipped_head(embedder_name: str) -> Path:
    """Where the head trained for an embedder ships: ``nlp/heads/<embedder>.npz``."""
    slug = re.sub(r"[^a-z0-9]+", "-", embedder_name.lower()).strip("-")
    return HEADS / f"{slug}.npz"
