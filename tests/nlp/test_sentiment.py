"""Sentiment: the linear head (synthetic and real embeddings), its files, evaluation, data files."""

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from nlp.embedding import load_embedder
from nlp.sentiment import (
    LABELS,
    HeadSentiment,
    LinearHead,
    Sentiment,
    SentimentClassifier,
    evaluate,
    read_labelled,
)


def synthetic(count: int, seed: int, dimension: int = 64) -> tuple[np.ndarray, list[str]]:
    """Unit vectors scattered around one fixed centre per label (centres shared across seeds)."""
    centres = np.random.default_rng(0).normal(size=(len(LABELS), dimension))
    rng = np.random.default_rng(seed)
    classes = rng.integers(0, len(LABELS), count)
    points = centres[classes] + rng.normal(scale=1.5, size=(count, dimension))
    points /= np.linalg.norm(points, axis=1, keepdims=True)
    return points.astype(np.float32), [LABELS[c] for c in classes]


@pytest.fixture(scope="module")
def trained() -> LinearHead:
    vectors, labels = synthetic(600, seed=1)
    return LinearHead("test-embedder").fit(vectors, labels)


def test_head_separates_held_out_synthetic_points(trained: LinearHead) -> None:
    vectors, labels = synthetic(300, seed=2)
    predicted = [s.label for s in trained.classify(vectors)]
    accuracy = np.mean([p == g for p, g in zip(predicted, labels, strict=True)])
    assert accuracy >= 0.95
    assert trained.labels == LABELS
    assert trained.training["converged"]


def test_probabilities_scores_and_confidences(trained: LinearHead) -> None:
    vectors, _ = synthetic(50, seed=3)
    proba = trained.predict_proba(vectors)
    assert proba.shape == (50, 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-9)
    results = trained.classify(vectors)
    for sentiment, row in zip(results, proba, strict=True):
        assert -1.0 <= sentiment.score <= 1.0
        assert sentiment.score == pytest.approx(row[2] - row[0])
        assert sentiment.confidence == pytest.approx(row.max())
        assert sentiment.label == LABELS[int(row.argmax())]
    assert trained.name == "linear-head[test-embedder]"


class FixedEmbedder:
    """Returns the vectors it was made with (to see which vectors a head reads)."""

    name = "test-embedder"
    dimension = 32

    def __init__(self, vectors: np.ndarray) -> None:
        self.vectors, self.calls = vectors, 0

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        self.calls += 1
        return self.vectors[: len(texts)]


def test_a_head_reads_shared_vectors_or_embeds_itself(trained: LinearHead) -> None:
    vectors, _ = synthetic(4, seed=5)
    embedder = FixedEmbedder(vectors)
    shared: SentimentClassifier = HeadSentiment(trained, embedder, shared=True)
    assert shared.classify(["a"] * 4, vectors) == trained.classify(vectors)
    assert embedder.calls == 0  # the pipeline's vectors: no second pass
    alone = HeadSentiment(trained, embedder)
    assert alone.classify(["a"] * 4, np.zeros((4, 32))) == trained.classify(vectors)
    assert embedder.calls == 1
    with pytest.raises(ValueError, match="cannot read"):
        HeadSentiment(trained, OtherEmbedder(vectors))


class OtherEmbedder(FixedEmbedder):
    name = "another-embedder"


def test_training_is_deterministic() -> None:
    vectors, labels = synthetic(400, seed=4)
    first = LinearHead("e").fit(vectors, labels)
    second = LinearHead("e").fit(vectors, labels)
    assert np.array_equal(first.weights, second.weights)
    assert np.array_equal(first.bias, second.bias)


def test_binary_head_scores_with_missing_neutral() -> None:
    vectors, labels = synthetic(400, seed=5)
    keep = [i for i, label in enumerate(labels) if label != "neutral"]
    head = LinearHead("e").fit(vectors[keep], [labels[i] for i in keep])
    assert head.labels == ("negative", "positive")
    proba = head.predict_proba(vectors[:20])
    for sentiment, row in zip(head.classify(vectors[:20]), proba, strict=True):
        assert sentiment.label in ("negative", "positive")
        assert sentiment.score == pytest.approx(row[1] - row[0])


def test_class_weights_balance_a_skewed_training_set() -> None:
    vectors, labels = synthetic(900, seed=6)
    keep = [i for i, label in enumerate(labels) if label != "negative" or i % 10 == 0]
    skewed = [labels[i] for i in keep]
    balanced = LinearHead("e").fit(vectors[keep], skewed)
    plain = LinearHead("e").fit(vectors[keep], skewed, class_weight=None)
    assert balanced.training["examples"]["negative"] < 40
    held, gold = synthetic(300, seed=7)
    negatives = [i for i, label in enumerate(gold) if label == "negative"]

    def recall(head: LinearHead) -> float:
        return np.mean([s.label == "negative" for s in head.classify(held[negatives])])

    assert recall(balanced) >= recall(plain)


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        (["positive"] * 4, "at least two"),
        (["positive", "negative", "positive", "meh"], "unknown sentiment labels"),
        (["positive", "negative"], "4 vectors but 2 labels"),
    ],
)
def test_fit_rejects_bad_labels(labels: list[str], message: str) -> None:
    vectors, _ = synthetic(4, seed=8)
    with pytest.raises(ValueError, match=message):
        LinearHead("e").fit(vectors, labels)


def test_untrained_head_and_wrong_dimension(trained: LinearHead) -> None:
    with pytest.raises(ValueError, match="not trained"):
        LinearHead("e").classify(np.zeros((1, 64), dtype=np.float32))
    with pytest.raises(ValueError, match=r"shape \(rows, 64\)"):
        trained.classify(np.zeros((1, 32), dtype=np.float32))


def test_save_load_round_trip_and_card(trained: LinearHead, tmp_path: Path) -> None:
    path = tmp_path / "sentiment.npz"
    trained.save(path, {"source": "synthetic", "notes": "unit test"})
    loaded = LinearHead.load(path)
    assert loaded.embedder_name == "test-embedder"
    assert loaded.labels == trained.labels
    assert np.array_equal(loaded.weights, trained.weights)
    assert np.array_equal(loaded.bias, trained.bias)
    assert loaded.trained_at == trained.trained_at
    assert loaded.training == trained.training
    vectors, _ = synthetic(10, seed=9)
    assert loaded.classify(vectors) == trained.classify(vectors)

    card = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
    assert card["source"] == "synthetic"
    assert card["notes"] == "unit test"
    assert card["embedder"] == "test-embedder"
    assert card["dimension"] == 64
    assert card["labels"] == list(LABELS)
    assert card["trained_at"] == trained.trained_at
    assert card["training"]["examples"] == trained.training["examples"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sentiment.json", "sentiment.npz"]


def test_load_refuses_missing_garbage_and_foreign_files(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no sentiment head at"):
        LinearHead.load(tmp_path / "absent.npz")
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"not a zip file at all")
    with pytest.raises(ValueError, match="not a readable sentiment head"):
        LinearHead.load(garbage)
    foreign = tmp_path / "foreign.npz"
    np.savez(foreign, weights=np.zeros((4, 3)))
    with pytest.raises(ValueError, match="not a sentiment head file"):
        LinearHead.load(foreign)


def test_load_refuses_inconsistent_weights(trained: LinearHead, tmp_path: Path) -> None:
    path = tmp_path / "head.npz"
    trained.save(path, {})
    with np.load(path) as data:
        fields = {key: data[key] for key in data.files}
    fields["bias"] = np.zeros(2, dtype=np.float32)
    np.savez(path, **fields)
    with pytest.raises(ValueError, match="damaged"):
        LinearHead.load(path)


def test_save_needs_an_npz_path_and_a_trained_head(trained: LinearHead, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"\.npz"):
        trained.save(tmp_path / "head.json", {})
    with pytest.raises(ValueError, match="not trained"):
        LinearHead("e").save(tmp_path / "head.npz", {})


def test_check_embedder(trained: LinearHead) -> None:
    trained.check_embedder("test-embedder")
    with pytest.raises(ValueError, match=r"'test-embedder'.*'use-multilingual-v3'"):
        trained.check_embedder("use-multilingual-v3")


def test_evaluate_by_hand() -> None:
    gold = ["positive", "positive", "negative", "neutral", "negative", "positive"]
    predicted = ["positive", "neutral", "negative", "neutral", "positive", "positive"]
    languages = ["en", "en", "en", "es", "es", "es"]
    result = evaluate(gold, predicted, languages)
    # positive: 2 hits, 3 gold, 3 predicted -> F1 4/6; negative: 1, 2, 1 -> 2/3; neutral: 1, 1, 2
    overall = result["overall"]
    assert overall["n"] == 6
    assert overall["accuracy"] == pytest.approx(4 / 6)
    assert overall["macro_f1"] == pytest.approx((4 / 6 + 2 / 3 + 2 / 3) / 3)
    assert overall["classes"] == list(LABELS)
    # en: gold pos, pos, neg -> positive F1 2*1/(2+1) = 2/3, negative 1; neutral not in gold
    english = result["by_language"]["en"]
    assert english["n"] == 3
    assert english["accuracy"] == pytest.approx(2 / 3)
    assert english["classes"] == ["negative", "positive"]
    assert english["macro_f1"] == pytest.approx((2 / 3 + 1) / 2)
    # es: gold neu, neg, pos -> neutral 1, negative 0, positive 2*1/(1+2)
    spanish = result["by_language"]["es"]
    assert spanish["accuracy"] == pytest.approx(2 / 3)
    assert spanish["macro_f1"] == pytest.approx((1 + 0 + 2 / 3) / 3)
    assert evaluate(gold, predicted)["by_language"] == {}


def test_evaluate_binary_gold_counts_neutral_as_wrong() -> None:
    gold = ["positive", "negative", "negative", "positive"]
    predicted = ["positive", "neutral", "negative", "neutral"]
    overall = evaluate(gold, predicted)["overall"]
    assert overall["classes"] == ["negative", "positive"]
    assert overall["accuracy"] == pytest.approx(0.5)
    # negative: 1 hit, 2 gold, 1 predicted -> 2/3; positive: the same
    assert overall["macro_f1"] == pytest.approx(2 / 3)


def test_evaluate_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="same length"):
        evaluate(["positive"], [])
    with pytest.raises(ValueError, match="same length"):
        evaluate(["positive"], ["positive"], ["en", "es"])
    with pytest.raises(ValueError, match="nothing to evaluate"):
        evaluate([], [])
    with pytest.raises(ValueError, match="unknown sentiment labels"):
        evaluate(["Positive"], ["positive"])


def write_lines(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_read_labelled_good_files(tmp_path: Path) -> None:
    first = write_lines(
        tmp_path / "a.jsonl",
        [
            '{"text": "Love it", "label": "POSITIVE", "language": "EN"}',
            "",
            '{"text": "Meh", "label": " Neutral ", "id": 7}',
        ],
    )
    second = write_lines(
        tmp_path / "b.jsonl",
        ['{"text": "Horrible", "label": 0, "language": "es"}', '{"text": "ok", "label": 1}'],
    )
    assert read_labelled([first, second]) == [
        {"text": "Love it", "label": "positive", "language": "en"},
        {"text": "Meh", "label": "neutral", "language": None},
        {"text": "Horrible", "label": "negative", "language": "es"},
        {"text": "ok", "label": "neutral", "language": None},
    ]
    assert read_labelled([]) == []


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"label": "positive"}', "missing or empty 'text'"),
        ('{"text": "   ", "label": "positive"}', "missing or empty 'text'"),
        ('{"text": "hi"}', "missing 'label'"),
        ('{"text": "hi", "label": "great"}', "unknown label 'great'"),
        ('{"text": "hi", "label": "2"}', "unknown label '2'"),
        ('{"text": "hi", "label": 3}', "unknown label 3"),
        ('{"text": "hi", "label": 1.0}', "unknown label 1.0"),
        ('{"text": "hi", "label": true}', "unknown label True"),
        ('{"text": "hi", "label": "positive", "language": 1}', "'language' must be a string"),
        ('["hi", "positive"]', "expected a JSON object"),
        ('{"text": "hi", "label": ', "not valid JSON"),
    ],
)
def test_read_labelled_names_the_bad_line(tmp_path: Path, line: str, message: str) -> None:
    path = write_lines(tmp_path / "bad.jsonl", ['{"text": "fine", "label": "negative"}', "", line])
    with pytest.raises(ValueError, match=message) as caught:
        read_labelled([path])
    assert str(caught.value).startswith(f"{path}:3: ")


def test_read_labelled_missing_file_and_bad_encoding(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"absent\.jsonl"):
        read_labelled([tmp_path / "absent.jsonl"])
    latin = tmp_path / "latin.jsonl"
    latin.write_bytes('{"text": "ok", "label": "neutral"}\n{"text": "café"}\n'.encode("latin-1"))
    with pytest.raises(ValueError, match=r"latin\.jsonl:2: not UTF-8"):
        read_labelled([latin])


# Customer feedback written for this test: 20 per label, English, Spanish and Portuguese mixed.
NEGATIVE = [
    "My order arrived two hours late and the food was cold.",
    "Me cobraron dos veces y nadie responde mis correos.",
    "O aplicativo trava toda vez que tento pagar.",
    "Worst customer service I have ever dealt with.",
    "El producto llegó roto y la devolución es un infierno.",
    "Péssimo atendimento, ninguém resolveu meu problema.",
    "The app keeps crashing and I lost my whole cart.",
    "Estoy muy decepcionado, la calidad es horrible.",
    "Fui cobrado indevidamente e ainda não recebi o reembolso.",
    "Terrible experience, I want my money back.",
    "La entrega nunca llegó y me siguen ignorando.",
    "Produto veio estragado, nunca mais compro aqui.",
    "Support closed my ticket without fixing anything. Awful.",
    "La aplicación es lentísima y se cierra sola.",
    "Que decepção, o pedido veio totalmente errado.",
    "The subscription price doubled without any warning, ridiculous.",
    "Pésimo servicio, el repartidor fue muy grosero.",
    "Esperei uma hora no chat e fui desconectado.",
    "Everything in the box was damaged. Very disappointed.",
    "No funciona nada, es una pérdida de dinero.",
]
NEUTRAL = [
    "I changed my delivery address last week.",
    "¿Cuál es el horario de atención al cliente?",
    "Recebi o pedido na terça-feira.",
    "How do I update the payment method on my account?",
    "Hice el pedido desde la aplicación del móvil.",
    "Gostaria de saber se vocês entregam no sábado.",
    "The package was delivered to the front desk.",
    "Quiero cambiar el correo electrónico de mi cuenta.",
    "Usei o cupom no segundo pedido.",
    "I ordered the medium size this time.",
    "El pedido incluye tres productos.",
    "Qual é o prazo de entrega para o interior?",
    "Is there an option to pause the subscription for a month?",
    "Pagué con tarjeta de débito.",
    "Meu pedido tem o número 4521.",
    "I usually order on Mondays.",
    "La factura llegó a mi correo.",
    "A entrega foi feita pelo correio.",
    "Can I pick up the order at the store instead?",
    "Vivo en Madrid y pido cada semana.",
]
POSITIVE = [
    "Great service, my refund was sorted in five minutes!",
    "Me encanta la aplicación, es rapidísima y fácil de usar.",
    "Adorei, a entrega chegou antes do previsto.",
    "The support agent was friendly and solved everything.",
    "Excelente calidad, todo llegó fresco y bien empaquetado.",
    "Melhor serviço de entregas que já usei, recomendo muito!",
    "Love the new design, checkout is so much easier now.",
    "Muy contento con la compra, volveré a pedir.",
    "Atendimento excelente, resolveram meu problema na hora.",
    "Fantastic quality and super fast delivery. Thank you!",
    "El repartidor fue muy amable y puntual.",
    "Produtos frescos e preço justo, estou muito satisfeita.",
    "Best app for groceries, I recommend it to all my friends.",
    "Todo perfecto, gracias por la atención.",
    "Amei o novo aplicativo, ficou muito mais rápido.",
    "Really happy with the subscription, totally worth it.",
    "Un servicio maravilloso, estoy encantada.",
    "Chegou tudo certinho e muito bem embalado, parabéns!",
    "Amazing experience from start to finish.",
    "La mejor atención al cliente que he recibido.",
]


def test_real_embeddings_small_sample() -> None:
    """USE vectors of 60 hand-written texts: train on 39, check the 21 held out.

    A small-sample floor, not a benchmark: one error among 21 is 4.8 points.
    """
    texts = NEGATIVE + NEUTRAL + POSITIVE
    labels = ["negative"] * 20 + ["neutral"] * 20 + ["positive"] * 20
    embedder = load_embedder("use", threads=2)
    vectors = embedder.embed(texts)
    # 7 of each label held out; the lists cycle en, es, pt, so shift the pick to mix languages
    held = [i for i in range(len(texts)) if (i % 20 + i % 20 // 3) % 3 == 0]
    train = [i for i in range(len(texts)) if i not in held]
    head = LinearHead(embedder.name).fit(vectors[train], [labels[i] for i in train])
    head.check_embedder(embedder.name)
    results = head.classify(vectors[held])
    accuracy = evaluate([labels[i] for i in held], [r.label for r in results])["overall"]
    assert accuracy["accuracy"] >= 0.6, accuracy
    assert all(isinstance(r, Sentiment) and -1 <= r.score <= 1 for r in results)
