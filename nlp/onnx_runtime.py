"""Sentence embeddings on ONNX Runtime: a transformers encoder exported once, int8 on the CPU.

:func:`onnx_embedder` exports a transformers encoder (after ``adapt``: a fine-tuned delta merged
into the base) with ``torch.onnx.export``, quantizes its MatMuls with weights to dynamic int8
(``onnxruntime.quantization.quantize_dynamic``, per-channel weights; the FFN output MatMuls
stay float32 unless ``float_ffn_outputs`` is off) and keeps the result in the
model cache (``HUB_MODEL_CACHE``) under the model's name and a hash of every file it was made
from. Later calls, in any process, find it there and need neither torch nor the export. The
graph ends in the masked sum of the last hidden state, so :class:`OnnxEmbedder` gets one row per
text and pools like :class:`nlp.embedding.TransformersEmbedder`: texts are tokenized once,
sorted by length and run in padded batches; a text longer than ``max_length`` tokens is cut
into windows whose states are averaged (weighted by their tokens); rows are L2-normalised.

Runs on ``onnxruntime`` and ``transformers``' tokenizer; the export also needs ``torch`` and
``onnx``. Importing this module imports none of them.
"""

import hashlib
import json
import logging
import re
import shutil
import tempfile
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from nlp.e5_port import cache_lock, publish

if TYPE_CHECKING:
    import numpy.typing as npt

EXPORT_VERSION = 1  # bump when the export's output changes: older exports are rebuilt
OPSET = 17
MODEL_FILE = "model.onnx"
MARKER = "export-complete.json"  # written last: a directory without it is not an export
EXPORTS = "onnx"  # the exports' folder in the model cache
# The FFN output MatMuls (``…layer.N.output.dense``, not ``attention.output.dense``) read GELU
# activations, whose outliers int8 rounds worst: like nlp.embedding's torch path, keep them float.
FLOAT_MATMUL = re.compile(r"/layer\.\d+/output/dense/MatMul$")

log = logging.getLogger(__name__)


class OnnxEmbedder:
    """An export made by :func:`ensure_onnx_export`, run by ONNX Runtime on the CPU.

    Texts get ``prefix``; batches hold at most ``batch_size`` texts and ``max_batch_tokens``
    padded tokens. ``threads`` sets ONNX Runtime's intra-op threads (None: its default).
    """

    def __init__(
        self,
        directory: Path,
        *,
        name: str,
        threads: int | None,
        prefix: str = "",
        batch_size: int = 64,
        max_length: int = 512,
        max_batch_tokens: int = 16384,
    ) -> None:
        if min(batch_size, max_length, max_batch_tokens) < 1:
            raise ValueError("batch_size, max_length and max_batch_tokens must be positive")
        import onnxruntime
        from transformers import AutoTokenizer

        marker = _read_marker(directory)
        if marker is None:
            raise ValueError(f"{directory}: not a finished ONNX export (no {MARKER})")
        options = onnxruntime.SessionOptions()
        if threads is not None:
            options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        self._session = onnxruntime.InferenceSession(
            str(directory / MODEL_FILE), options, providers=["CPUExecutionProvider"]
        )
        self._tokenizer = AutoTokenizer.from_pretrained(directory, local_files_only=True)
        self._pad_id = int(self._tokenizer.pad_token_id or 0)
        # (topic floor, margin) fitted for this model, as on nlp.embedding.TransformersEmbedder
        self.topic_calibration: tuple[float, float] | None = None
        self.batch_size = batch_size
        self.max_batch_tokens = max_batch_tokens
        self.max_length = min(
            max_length, int(marker["max_positions"]), self._tokenizer.model_max_length
        )
        self.prefix = prefix
        self.name = name
        self.dimension: int = int(marker["dimension"])

    def embed(self, texts: Sequence[str]) -> "npt.NDArray[np.float32]":
        """One unit vector per text, in order."""
        from nlp.embedding import padded_batch

        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        if not texts:
            return out
        windows, owners = self._windows(texts)
        lengths = [len(ids) for ids in windows]
        for rows in self._batches(lengths):
            ids, mask = padded_batch(windows, rows, self._pad_id)
            (summed,) = self._session.run(None, {"input_ids": ids, "attention_mask": mask})
            for n, i in enumerate(rows):  # token-weighted sum per text, over its windows
                out[owners[i]] += summed[n]
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        unit: npt.NDArray[np.float32] = out / np.maximum(norms, 1e-12)
        return unit

    def _windows(self, texts: Sequence[str]) -> tuple[list[list[int]], list[int]]:
        from nlp.embedding import token_windows

        return token_windows(self._tokenizer, [self.prefix + t for t in texts], self.max_length)

    def _batches(self, lengths: Sequence[int]) -> Iterator[list[int]]:
        from nlp.embedding import length_batches

        return length_batches(lengths, self.batch_size, self.max_batch_tokens)


def onnx_embedder(
    model: str | Path,
    *,
    name: str,
    threads: int | None,
    prefix: str = "",
    quantize: bool = True,
    float_ffn_outputs: bool = True,
    adapt: Callable[[Any], None] | None = None,
    sources: Sequence[Path] = (),
    model_kwargs: Mapping[str, Any] | None = None,
    cache_dir: Path | None = None,
    batch_size: int = 64,
    max_length: int = 512,
) -> OnnxEmbedder:
    """``model`` (a local transformers model directory) on ONNX Runtime, exported on first use.

    ``adapt`` changes the loaded model's weights before the export; ``sources`` must list every
    file it reads (they are hashed with the model's files: a changed file means a new export).
    ``quantize``: int8 MatMuls (float32 otherwise); ``float_ffn_outputs``: but the FFN outputs
    (~1.4x torch's dynamic int8 at cosine ~0.999 to float32 on e5-small; off: ~1.8x, ~0.997).
    ``cache_dir``: default ``$HUB_MODEL_CACHE``.
    """
    from nlp.embedding import model_cache_dir

    directory = ensure_onnx_export(
        Path(model),
        cache_dir or model_cache_dir(),
        name=name,
        quantize=quantize,
        float_ffn_outputs=float_ffn_outputs,
        adapt=adapt,
        sources=sources,
        model_kwargs=model_kwargs,
    )
    return OnnxEmbedder(
        directory,
        name=name,
        threads=threads,
        prefix=prefix,
        batch_size=batch_size,
        max_length=max_length,
    )


def ensure_onnx_export(
    model: Path,
    cache_dir: Path,
    *,
    name: str,
    quantize: bool = True,
    float_ffn_outputs: bool = True,
    adapt: Callable[[Any], None] | None = None,
    sources: Sequence[Path] = (),
    model_kwargs: Mapping[str, Any] | None = None,
) -> Path:
    """The export's directory under ``cache_dir/onnx``, made first if missing.

    It is keyed by ``name`` and a hash of the model's files, ``sources`` and the settings. The
    first call exports into a temporary sibling and renames it into place under a lock, so that
    concurrent or crashed exports never leave a directory that looks finished; later calls only
    hash the files (~1 s for e5-small's 470 MB), check the marker and return.
    """
    if not model.is_dir():
        raise ValueError(f"{model}: the ONNX export needs a local model directory")
    kwargs = dict(model_kwargs or {})
    settings = {"quantize": quantize, "float_ffn_outputs": float_ffn_outputs, "kwargs": kwargs}
    key = content_key(model, sources, settings)
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "model"
    root = cache_dir / EXPORTS
    target = root / f"{slug}-{key[:16]}"
    if _read_marker(target) is not None:
        return target
    root.mkdir(parents=True, exist_ok=True)
    with cache_lock(root, ".onnx-export.lock"):
        if _read_marker(target) is not None:  # another process finished it while we waited
            return target
        for stale in root.glob(f".{target.name}.*"):  # crashed exports: the lock is ours
            shutil.rmtree(stale, ignore_errors=True)
        work = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=root))
        try:
            marker = export(
                model,
                work,
                quantize=quantize,
                float_ffn_outputs=float_ffn_outputs,
                adapt=adapt,
                model_kwargs=kwargs,
            )
            marker.update(name=name, key=key)
            (work / MARKER).write_text(json.dumps(marker, indent=2) + "\n", encoding="utf-8")
            publish(work, target)
        except BaseException:
            shutil.rmtree(work, ignore_errors=True)
            raise
        # Older exports of the same model (another version of its files) are dead weight
        # (~400 MB each); a process still running one keeps its open files until it ends.
        for older in root.iterdir():
            if older != target and re.fullmatch(rf"{re.escape(slug)}-[0-9a-f]{{16}}", older.name):
                shutil.rmtree(older, ignore_errors=True)
    return target


def content_key(model: Path, sources: Sequence[Path], settings: Mapping[str, Any]) -> str:
    """SHA-256 over the model directory's files, ``sources`` and the export's settings."""
    digest = hashlib.sha256(f"export {EXPORT_VERSION} opset {OPSET}\n".encode())
    digest.update(json.dumps(settings, sort_keys=True, default=str).encode() + b"\n")
    files = [(path.relative_to(model).as_posix(), path) for path in sorted(model.rglob("*"))]
    files += [(f"source:{index}", Path(path)) for index, path in enumerate(sources)]
    for label, path in files:
        if not path.is_file():
            continue
        with path.open("rb") as handle:
            file_hash = hashlib.file_digest(handle, "sha256").hexdigest()
        digest.update(f"{label} {file_hash}\n".encode())
    return digest.hexdigest()


def export(
    model: Path,
    directory: Path,
    *,
    quantize: bool,
    float_ffn_outputs: bool = True,
    adapt: Callable[[Any], None] | None = None,
    model_kwargs: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Write ``model`` (adapted) as ONNX, int8 if ``quantize``, and its tokenizer into
    ``directory``; returns what the marker records (dimension, positions, excluded nodes)."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    encoder = AutoModel.from_pretrained(model, local_files_only=True, **(model_kwargs or {}))
    if adapt is not None:
        adapt(encoder)
    encoder.config._attn_implementation = "eager"  # plain MatMul and Softmax in the graph
    encoder.eval()
    tokenizer = AutoTokenizer.from_pretrained(model, local_files_only=True)
    tokenizer.save_pretrained(directory)
    ids = torch.tensor([[0, 5, 6, 7, 2], [0, 8, 9, 2, 1]]).clamp(max=encoder.config.vocab_size - 1)
    mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 1, 0]])
    float_path = directory / ("float32.onnx" if quantize else MODEL_FILE)
    axes = {0: "batch", 1: "sequence"}
    with warnings.catch_warnings(), torch.no_grad():
        # the TorchScript exporter is deprecated in favour of torch.export's, which needs
        # onnxscript (not installed); its tracer warnings concern shapes that stay dynamic here
        warnings.simplefilter("ignore")
        torch.onnx.export(
            _summed_states(encoder),
            (ids, mask),
            str(float_path),
            input_names=["input_ids", "attention_mask"],
            output_names=["summed"],
            dynamic_axes={"input_ids": axes, "attention_mask": axes, "summed": {0: "batch"}},
            opset_version=OPSET,
            dynamo=False,
        )
    kept: list[str] = []
    if quantize:
        kept = _quantize(float_path, directory / MODEL_FILE, float_ffn_outputs)
        float_path.unlink()
    return {
        "export_version": EXPORT_VERSION,
        "dimension": int(encoder.config.hidden_size),
        "max_positions": int(getattr(encoder.config, "max_position_embeddings", 512)),
        "quantized": quantize,
        "float_matmuls": kept,
    }


def _quantize(source: Path, target: Path, float_ffn_outputs: bool) -> list[str]:
    """Dynamic int8 for the MatMuls with weights (but the FFN outputs); returns those kept."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    graph = onnx.load(str(source), load_external_data=False).graph
    kept = [
        node.name
        for node in graph.node
        if float_ffn_outputs and node.op_type == "MatMul" and FLOAT_MATMUL.search(node.name)
    ]
    if float_ffn_outputs and not kept:
        log.warning("%s: no FFN output MatMul found (not a BERT-like graph): all go int8", source)
    quiet = _DropRecords("pre-processing before quantization")  # advice for static int8
    logging.getLogger().addFilter(quiet)
    try:
        quantize_dynamic(
            str(source),
            str(target),
            weight_type=QuantType.QInt8,
            op_types_to_quantize=["MatMul"],
            nodes_to_exclude=kept,
            per_channel=True,
        )
    finally:
        logging.getLogger().removeFilter(quiet)
    return kept


def _summed_states(encoder: Any) -> Any:
    """A module around ``encoder`` whose output is the masked sum of its last hidden state."""
    import torch

    class SummedStates(torch.nn.Module):
        """The encoder, then the masked sum of its last hidden state over the tokens."""

        def __init__(self, encoder: Any) -> None:
            super().__init__()
            self.encoder = encoder

        def forward(self, input_ids: Any, attention_mask: Any) -> Any:
            """``(batch, hidden)``: the sum of the real tokens' states."""
            hidden = self.encoder(
                input_ids=input_ids, attention_mask=attention_mask
            ).last_hidden_state
            return (hidden * attention_mask.unsqueeze(-1).to(hidden.dtype)).sum(dim=1)

    return SummedStates(encoder).eval()


class _DropRecords(logging.Filter):
    """Drops the log records whose message contains ``text``."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text

    def filter(self, record: logging.LogRecord) -> bool:
        """False for a record to drop."""
        return self.text not in record.getMessage()


def _read_marker(directory: Path) -> dict[str, Any] | None:
    """The marker of a finished export of this version, else None."""
    try:
        marker = json.loads((directory / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(marker, dict) or marker.get("export_version") != EXPORT_VERSION:
        return None
    return marker
