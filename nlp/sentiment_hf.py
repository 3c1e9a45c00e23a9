"""Any Hugging Face sequence-classification model as the sentiment classifier (text in).

For users with internet who prefer another model (e.g. an XLM-T checkpoint): a local directory,
or a model id already in the local Hugging Face cache (or downloaded when ``allow_download``).
Its labels are mapped to negative / neutral / positive by name (``negative``, ``neg``,
``LABEL_0``…; star ratings ``1 star``…``5 stars`` by stars). Importing this module does not
import torch.
"""

import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from nlp.sentiment import LABELS, Sentiment

ALIASES = {"neg": "negative", "neu": "neutral", "pos": "positive"}


def label_map(id2label: dict[int, str]) -> list[str]:
    """Each class of the model as negative / neutral / positive; ValueError if one can't be."""
    names = [str(id2label[i]).strip().lower() for i in sorted(id2label)]
    if all(re.fullmatch(r"label_\d+", name) for name in names) and len(names) in (2, 3):
        return ["negative", "positive"] if len(names) == 2 else list(LABELS)
    stars = [re.match(r"(\d)\s*stars?$", name) for name in names]
    if all(stars):
        return [
            "negative" if int(m.group(1)) <= 2 else "neutral" if int(m.group(1)) == 3
            else "positive"
            for m in stars if m
        ]  # fmt: skip
    mapped = [ALIASES.get(name[:3], name) for name in names]
    unknown = [name for name in mapped if name not in LABELS]
    if unknown:
        raise ValueError(f"cannot map the model's labels {names} to {LABELS}")
    return mapped


class TransformersSentiment:
    """A transformers sequence classifier, batched by length; probabilities summed per label."""

    def __init__(
        self,
        model: str,
        *,
        threads: int | None = None,
        device: str = "cpu",
        batch_size: int = 32,
        max_length: int = 512,
        allow_download: bool = False,
    ) -> None:
        import torch
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        if threads:
            torch.set_num_threads(threads)
        local_only = not allow_download
        try:
            self._tokenizer = AutoTokenizer.from_pretrained(model, local_files_only=local_only)
            self._model = AutoModelForSequenceClassification.from_pretrained(
                model, local_files_only=local_only
            )
        except (OSError, ValueError) as exc:
            raise ValueError(
                f"could not load the sentiment model {model!r} offline: give a local model "
                "directory or a Hugging Face id already in the local cache"
            ) from exc
        self._labels = label_map(self._model.config.id2label)
        self._torch = torch
        self._device = torch.device(device)
        self._model.to(self._device).eval()
        self.batch_size = batch_size
        self.max_length = min(max_length, int(self._tokenizer.model_max_length))
        self.name = f"transformers:{model}"

    def classify(self, texts: Sequence[str], vectors: Any = None) -> list[Sentiment]:
        """One sentiment per text (``vectors`` are not used: the model reads the text)."""
        torch = self._torch
        proba = np.zeros((len(texts), len(LABELS)))
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        with torch.inference_mode():
            for start in range(0, len(order), self.batch_size):
                rows = order[start : start + self.batch_size]
                batch = self._tokenizer(
                    [texts[i] for i in rows], truncation=True, max_length=self.max_length,
                    padding=True, return_tensors="pt",
                ).to(self._device)  # fmt: skip
                logits = self._model(**batch).logits.float()
                out = torch.softmax(logits, dim=-1).cpu().numpy()
                for column, label in enumerate(self._labels):
                    proba[rows, LABELS.index(label)] += out[:, column]
        best = proba.argmax(axis=1)
        return [
            Sentiment(LABELS[b], float(row[2] - row[0]), float(row[b]))
            for b, row in zip(best, proba, strict=True)
        ]
