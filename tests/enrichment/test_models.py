"""Which sentiment model and embedder the worker loads (HUB_SENTIMENT_MODEL), and its fallbacks."""

import logging
from pathlib import Path

import pytest
import torch

from hub.config import Settings
from hub.enrichment.pipeline import load_models
from nlp.e5_port import ensure_e5_checkpoint
from nlp.embedding import model_cache_dir
from nlp.sentiment import LABELS, SHIPPED_MODEL, HeadSentiment
from nlp.sentiment_net import WEIGHTS, SentimentModule, save_model

E5_ONNX = "e5-onnx-int8:multilingual-e5-small"  # the default embedder for topics


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fine-tuned model whose delta is its top layer's FFN output and a head (random)."""
    from transformers import AutoModel

    base = ensure_e5_checkpoint(model_cache_dir())
    encoder = AutoModel.from_pretrained(base, local_files_only=True, add_pooling_layer=False)
    encoder.requires_grad_(False)
    encoder.encoder.layer[-1].output.dense.requires_grad_(True)
    torch.manual_seed(0)
    net = SentimentModule(encoder, len(LABELS))
    directory = tmp_path_factory.mktemp("model")
    card = {"name": "test-model", "labels": list(LABELS), "config": {}}
    save_model(net, directory, card, method="full")
    return directory


def settings(**values: object) -> Settings:
    return Settings(database_url="sqlite://", nlp_threads=2, **values)  # type: ignore[arg-type]


def test_a_fine_tuned_model_embeds_for_topics_too_when_shared(model_dir: Path) -> None:
    embedder, sentiment = load_models(
        settings(sentiment_model=str(model_dir), embedding_model="shared")
    )
    assert isinstance(sentiment, HeadSentiment) and sentiment.shared
    assert embedder is sentiment.embedder and embedder.name == "test-model-int8"
    texts = ["Great, thanks!", "Horrible servicio"]
    vectors = embedder.embed(texts)
    assert [s.label for s in sentiment.classify(texts, vectors)] == [
        s.label for s in sentiment.classify(texts, None)
    ]


def test_another_embedder_for_topics_keeps_the_model_for_sentiment(model_dir: Path) -> None:
    embedder, sentiment = load_models(
        settings(
            sentiment_model=str(model_dir),
            embedding_model="use",
            nlp_quantize=False,
            nlp_runtime="torch",
        )
    )
    assert embedder.name == "use-multilingual-v3"
    assert isinstance(sentiment, HeadSentiment) and not sentiment.shared
    assert sentiment.embedder.name == "test-model"
    assert len(sentiment.classify(["ok then"], embedder.embed(["ok then"]))) == 1


def test_a_broken_model_file_is_logged_by_name_and_the_shipped_head_takes_over(
    model_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "card.json").write_bytes((model_dir / "card.json").read_bytes())
    (broken / WEIGHTS).write_bytes((model_dir / WEIGHTS).read_bytes()[:100])
    with caplog.at_level(logging.ERROR):
        embedder, sentiment = load_models(settings(sentiment_model=str(broken)))
    assert str(broken / WEIGHTS) in caplog.text
    assert embedder.name == E5_ONNX and sentiment is not None
    assert sentiment.name == f"linear-head[{E5_ONNX}]"


def test_none_turns_sentiment_off_and_frozen_head_picks_the_shipped_head() -> None:
    assert load_models(settings(sentiment_model="none"))[1] is None
    embedder, sentiment = load_models(settings(sentiment_model="frozen-head"))
    assert embedder.name == E5_ONNX and sentiment is not None
    assert sentiment.classify(["I love it"], embedder.embed(["I love it"]))[0].label == "positive"


def test_the_default_is_the_shipped_fine_tuned_model_beside_e5_for_topics() -> None:
    assert (SHIPPED_MODEL / "card.json").is_file(), "the fine-tuned model must ship"
    embedder, sentiment = load_models(settings())
    assert embedder.name == E5_ONNX
    assert isinstance(sentiment, HeadSentiment) and not sentiment.shared
    assert sentiment.name == "linear-head[e5-small-sentiment-full-20261207-int8]"
    texts = ["The app keeps crashing, I want a refund", "Atendimento excelente, obrigado!"]
    labels = [s.label for s in sentiment.classify(texts, embedder.embed(texts))]
    assert labels == ["negative", "positive"]
