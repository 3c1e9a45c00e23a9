"""The ONNX Runtime embedder: same vectors as the torch path, exported once, keyed by content."""

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from nlp import e5_port, onnx_runtime
from nlp.embedding import Embedder, TransformersEmbedder
from nlp.onnx_runtime import OnnxEmbedder, ensure_onnx_export, onnx_embedder

MAX_LENGTH = 16  # small, so that a sentence or two already needs windows
LONG = " ".join(["the delivery arrived late and my card was charged twice"] * 4)
TEXTS = [
    "my card was charged twice",
    "late",
    LONG,
    "",
    "família 👨\u200d👩\u200d👧 ❤️ entrega atrasada",
    "la aplicación se cierra sola",
    "ok",
]


@pytest.fixture(scope="module")
def tiny_e5(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random 2-layer BERT (hidden 16) with e5's tokenizer, saved like a hub model."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertModel

    checkpoint = e5_port.ensure_e5_checkpoint(tmp_path_factory.mktemp("model-cache"))
    path = tmp_path_factory.mktemp("tiny-e5")
    tokenizer = AutoTokenizer.from_pretrained(checkpoint, local_files_only=True)
    tokenizer.save_pretrained(path)
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=len(tokenizer),
        hidden_size=16,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=64,
        pad_token_id=tokenizer.pad_token_id,
    )
    BertModel(config, add_pooling_layer=False).save_pretrained(path)
    return path


def torch_embedder(model: Path, **kwargs: Any) -> TransformersEmbedder:
    return TransformersEmbedder(
        str(model),
        threads=1,
        batch_size=2,
        max_length=MAX_LENGTH,
        prefix="query: ",
        model_kwargs={"add_pooling_layer": False},
        **kwargs,
    )


def onnx(model: Path, cache: Path, **kwargs: Any) -> OnnxEmbedder:
    return onnx_embedder(
        model,
        name="tiny-e5",
        threads=1,
        prefix="query: ",
        cache_dir=cache,
        batch_size=2,
        max_length=MAX_LENGTH,
        model_kwargs={"add_pooling_layer": False},
        **kwargs,
    )


def test_float_export_gives_the_torch_vectors(tiny_e5: Path, tmp_path: Path) -> None:
    embedder: Embedder = onnx(tiny_e5, tmp_path, quantize=False)
    assert (embedder.name, embedder.dimension) == ("tiny-e5", 16)
    vectors = embedder.embed(TEXTS)  # batches of 2, padded; the long text in windows
    assert vectors.shape == (len(TEXTS), 16)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(vectors, torch_embedder(tiny_e5).embed(TEXTS), atol=1e-5)
    assert embedder.embed([]).shape == (0, 16)
    np.testing.assert_allclose(embedder.embed([LONG]), vectors[2:3], atol=1e-5)  # order kept


def test_int8_export_is_close_and_keeps_the_ffn_outputs_float(
    tiny_e5: Path, tmp_path: Path
) -> None:
    import onnx as onnx_lib

    embedder = onnx(tiny_e5, tmp_path)
    reference = torch_embedder(tiny_e5).embed(TEXTS)
    cosines = np.sum(embedder.embed(TEXTS) * reference, axis=1)
    assert cosines.min() > 0.98, cosines
    (export,) = (tmp_path / onnx_runtime.EXPORTS).glob("tiny-e5-*")
    marker = json.loads((export / onnx_runtime.MARKER).read_text())
    assert marker["quantized"] is True
    assert len(marker["float_matmuls"]) == 2  # one FFN output per layer
    ops = [node.op_type for node in onnx_lib.load(str(export / onnx_runtime.MODEL_FILE)).graph.node]
    assert ops.count("MatMulInteger") == 2 * 5  # q, k, v, attention output, FFN input
    assert not (export / "float32.onnx").exists()


def test_exported_once_and_again_when_a_source_changes(
    tiny_e5: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    delta = tmp_path / "delta.bin"
    delta.write_bytes(b"first")
    made = ensure_onnx_export(tiny_e5, tmp_path, name="Tiny E5!", quantize=False, sources=[delta])
    assert made.parent == tmp_path / onnx_runtime.EXPORTS
    assert made.name.startswith("tiny-e5-")

    def refuse(*args: object, **kwargs: object) -> dict[str, Any]:
        raise AssertionError("exported again")

    monkeypatch.setattr(onnx_runtime, "export", refuse)
    again = ensure_onnx_export(tiny_e5, tmp_path, name="Tiny E5!", quantize=False, sources=[delta])
    assert again == made
    delta.write_bytes(b"second")
    with pytest.raises(AssertionError, match="exported again"):
        ensure_onnx_export(tiny_e5, tmp_path, name="Tiny E5!", quantize=False, sources=[delta])
    # the failed export left nothing that looks finished, nor its temporary directory
    assert sorted(path.name for path in made.parent.iterdir()) == [".onnx-export.lock", made.name]


def test_a_crashed_export_is_cleaned_up_and_redone(tiny_e5: Path, tmp_path: Path) -> None:
    made = ensure_onnx_export(tiny_e5, tmp_path, name="tiny", quantize=False)
    (made / onnx_runtime.MARKER).unlink()  # as if the process died before the marker
    stale = made.parent / f".{made.name}.crashed"
    stale.mkdir()
    assert ensure_onnx_export(tiny_e5, tmp_path, name="tiny", quantize=False) == made
    assert (made / onnx_runtime.MARKER).is_file()
    assert not stale.exists()


def test_adapt_changes_the_weights_before_the_export(tiny_e5: Path, tmp_path: Path) -> None:
    import torch

    def adapt(encoder: Any) -> None:
        with torch.no_grad():
            encoder.get_parameter("encoder.layer.1.intermediate.dense.weight").mul_(3.0)

    source = tmp_path / "delta"
    source.write_text("x3")
    adapted = onnx(tiny_e5, tmp_path, quantize=False, adapt=adapt, sources=[source])
    expected = torch_embedder(tiny_e5, adapt=adapt).embed(TEXTS)
    np.testing.assert_allclose(adapted.embed(TEXTS), expected, atol=1e-5)
    plain = torch_embedder(tiny_e5).embed(TEXTS)
    assert np.abs(expected - plain).max() > 1e-3  # the adaptation did change the vectors


def test_refuses_what_is_not_a_local_model_directory(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="local model directory"):
        ensure_onnx_export(tmp_path / "missing", tmp_path, name="x")
    (tmp_path / "half").mkdir()
    with pytest.raises(ValueError, match="not a finished ONNX export"):
        OnnxEmbedder(tmp_path / "half", name="x", threads=1)


def test_the_cache_copy_is_self_contained(tiny_e5: Path, tmp_path: Path) -> None:
    model = tmp_path / "model"
    shutil.copytree(tiny_e5, model)
    made = ensure_onnx_export(model, tmp_path / "cache", name="tiny", quantize=False)
    shutil.rmtree(model)  # the export needs neither the model nor torch any more
    vectors = OnnxEmbedder(made, name="tiny", threads=1, max_length=MAX_LENGTH).embed(["ok"])
    assert vectors.shape == (1, 16)


def test_a_new_version_of_a_model_replaces_its_older_export(tiny_e5: Path, tmp_path: Path) -> None:
    delta = tmp_path / "delta.bin"
    delta.write_bytes(b"first")
    first = ensure_onnx_export(tiny_e5, tmp_path, name="tiny", quantize=False, sources=[delta])
    other = ensure_onnx_export(tiny_e5, tmp_path, name="tiny-other", quantize=False)
    delta.write_bytes(b"second")
    second = ensure_onnx_export(tiny_e5, tmp_path, name="tiny", quantize=False, sources=[delta])
    assert second != first and not first.exists()
    assert other.exists()  # another model's export (even one whose name extends it) stays
