"""Fine-tuning multilingual-e5-small for sentiment: LoRA (``peft``) or full, on torch.

Deterministic for a seed on one device (the data order, the initial weights and dropout all
come from it), resumable (a checkpoint is written at every evaluation and picked up by the next
run with the same output directory), and selected on validation: the kept state is the one with
the best mean macro-F1 over the validation groups (one group per validation file). What is saved
is small: the LoRA factors or the trained layers, and the head (see :mod:`nlp.sentiment_model`).

Importing this module imports neither torch nor transformers.
"""

import json
import math
import random
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from nlp.sentiment import LABELS, evaluate

if TYPE_CHECKING:
    import torch

CHECKPOINT = "checkpoint.pt"
Method = Literal["lora", "full"]
# BertModel's Linear layers: attention q/k/v, attention output, FFN in, FFN out ("dense" x3)
LORA_TARGETS = ("query", "key", "value", "dense")


@dataclass(frozen=True)
class FineTuneConfig:
    """Hyper-parameters; every field is recorded in the data card."""

    method: Method = "lora"
    epochs: int = 3
    batch_size: int = 32
    learning_rate: float = 5e-4  # LoRA factors; full fine-tuning uses ``full_learning_rate``
    full_learning_rate: float = 6e-5
    head_learning_rate: float = 2e-3
    layer_decay: float = 0.85  # full: each layer below the top learns this much slower
    top_layers: int = 0  # full: how many of the top encoder layers train (0: all of them)
    weight_decay: float = 0.01
    warmup: float = 0.1  # share of the steps with a rising learning rate
    lora_rank: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.1
    dropout: float = 0.1
    max_length: int = 128
    seed: int = 13
    evals_per_epoch: int = 2
    bf16: bool = True  # autocast on a CPU with bf16 support (or a GPU); ignored elsewhere

    def __post_init__(self) -> None:
        if self.method not in ("lora", "full"):
            raise ValueError(f"method must be 'lora' or 'full', not {self.method!r}")
        numbers = (self.epochs, self.batch_size, self.lora_rank, self.max_length)
        if min(numbers) < 1 or self.evals_per_epoch < 1 or self.top_layers < 0:
            raise ValueError("epochs, batch size, rank, max length and evals must be positive")
        if not 0 < self.layer_decay <= 1 or not 0 <= self.warmup < 1:
            raise ValueError("layer_decay must be in (0, 1] and warmup in [0, 1)")


@dataclass(frozen=True)
class Example:
    """One labelled text; ``group`` names what it is scored with (its file, for validation)."""

    text: str
    label: str
    group: str


@dataclass
class Outcome:
    """What a run produced: the network in its best state, its scores and where they were met."""

    net: Any
    best: dict[str, Any]
    history: list[dict[str, Any]]
    steps: int
    seconds: float


Report = Callable[[str, int, int], None]  # (phase, done, total)


def fine_tune(
    base_dir: Path,
    train: Sequence[Example],
    val: Sequence[Example],
    *,
    out: Path,
    config: FineTuneConfig,
    device: str = "cpu",
    threads: int | None = None,
    report: Report | None = None,
) -> Outcome:
    """Fine-tune the encoder in ``base_dir`` with a sentiment head; the net in its best state.

    While training, ``out`` holds ``checkpoint.pt`` (written at every evaluation); a run that
    finds one made with the same settings and data resumes from it. Without validation
    examples the last state is kept. Saving is :func:`nlp.sentiment_net.save_model`'s job.
    """
    import torch

    if not train:
        raise ValueError("nothing to train on")
    unknown = sorted({e.label for e in [*train, *val]} - set(LABELS))
    if unknown:
        raise ValueError(f"unknown sentiment labels {unknown}; expected some of {LABELS}")
    if threads:
        torch.set_num_threads(threads)
    out.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    _seed_everything(config.seed)
    tokenizer, net = _build(base_dir, config)
    net.to(device)
    train_ids = _tokenize(tokenizer, [e.text for e in train], config.max_length)
    val_ids = _tokenize(tokenizer, [e.text for e in val], config.max_length)
    targets = torch.tensor([LABELS.index(e.label) for e in train])
    steps_per_epoch = math.ceil(len(train) / config.batch_size)
    total = steps_per_epoch * config.epochs
    optimizer = torch.optim.AdamW(_parameter_groups(net, config), weight_decay=0.0)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, _warmup_then_linear(total, config))
    loss_fn = torch.nn.CrossEntropyLoss(weight=_balanced_weights(train).to(device))
    fingerprint = _fingerprint(config, train, val)
    state = _resume(out / CHECKPOINT, fingerprint, net, optimizer, schedule)
    eval_every = max(1, steps_per_epoch // config.evals_per_epoch)
    autocast = _autocast(device, config.bf16)
    step, spent = state["step"], state["seconds"]
    for epoch in range(step // steps_per_epoch, config.epochs):
        batches = list(_batches(train_ids, config, epoch))
        for index in range(step - epoch * steps_per_epoch, len(batches)):
            net.train()
            rows = batches[index]
            ids, mask = _pad(train_ids, rows, device)
            with autocast():
                logits, _ = net(ids, mask)
            loss = loss_fn(logits.float(), targets[rows].to(device))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
            optimizer.step()
            schedule.step()
            step += 1
            if report:
                report("train", step, total)
            if step % eval_every == 0 or step == total:
                scores = _validate(net, val_ids, val, device, config, report)
                state = _remember(state, step, loss.item(), scores, net)
                state["seconds"] = spent + time.monotonic() - started
                _save_checkpoint(out / CHECKPOINT, fingerprint, state, net, optimizer, schedule)
    best_state = state["best_state"] or _trainable_state(net)
    net.load_state_dict(best_state, strict=False)
    seconds = spent + time.monotonic() - started
    outcome = Outcome(
        net=net, best=state["best"], history=state["history"], steps=step, seconds=seconds
    )
    return outcome


def _build(base_dir: Path, config: FineTuneConfig) -> tuple[Any, "torch.nn.Module"]:
    from transformers import AutoModel, AutoTokenizer

    from nlp.sentiment_net import SentimentModule

    tokenizer = AutoTokenizer.from_pretrained(base_dir, local_files_only=True)
    encoder = AutoModel.from_pretrained(
        base_dir, local_files_only=True, add_pooling_layer=False,
        hidden_dropout_prob=config.dropout, attention_probs_dropout_prob=config.dropout,
    )  # fmt: skip
    if config.method == "lora":
        from peft import LoraConfig, inject_adapter_in_model

        lora = LoraConfig(
            r=config.lora_rank, lora_alpha=config.lora_alpha,
            lora_dropout=config.lora_dropout, target_modules=list(LORA_TARGETS),
        )  # fmt: skip
        encoder = inject_adapter_in_model(lora, encoder)
        for name, parameter in encoder.named_parameters():
            parameter.requires_grad = "lora_" in name
    else:
        encoder.embeddings.requires_grad_(False)  # 96M of e5's 118M weights: kept as shipped
        layers = encoder.encoder.layer
        for layer in layers[: len(layers) - config.top_layers] if config.top_layers else []:
            layer.requires_grad_(False)  # frozen below the top: no backward pass through them
    net = SentimentModule(encoder, len(LABELS), dropout=config.dropout)
    return tokenizer, net


def _parameter_groups(net: Any, config: FineTuneConfig) -> list[dict[str, Any]]:
    """The head at its own rate; LoRA factors at one rate; full layers decayed from the top."""
    groups: list[dict[str, Any]] = [
        {"params": list(net.head.parameters()), "lr": config.head_learning_rate,
         "weight_decay": config.weight_decay},
    ]  # fmt: skip
    encoder = net.encoder
    if config.method == "lora":
        params = [p for p in encoder.parameters() if p.requires_grad]
        groups.append({"params": params, "lr": config.learning_rate, "weight_decay": 0.0})
        return groups
    layers = encoder.encoder.layer
    for depth, layer in enumerate(layers):
        rate = config.full_learning_rate * config.layer_decay ** (len(layers) - 1 - depth)
        for no_decay in (False, True):
            params = [
                p for n, p in layer.named_parameters()
                if p.requires_grad and (("bias" in n or "LayerNorm" in n) == no_decay)
            ]  # fmt: skip
            groups.append(
                {"params": params, "lr": rate, "weight_decay": 0.0 if no_decay else
                 config.weight_decay}
            )  # fmt: skip
    return groups


def _warmup_then_linear(total: int, config: FineTuneConfig) -> Callable[[int], float]:
    warm = max(1, int(total * config.warmup))

    def factor(step: int) -> float:
        if step < warm:
            return (step + 1) / warm
        return max(0.0, (total - step) / max(1, total - warm))

    return factor


def _balanced_weights(train: Sequence[Example]) -> "torch.Tensor":
    """Each class weighs ``n / (classes * count)``; a class absent from the data weighs 0."""
    import torch

    counts = Counter(e.label for e in train)
    present = [label for label in LABELS if counts[label]]
    weights = [
        len(train) / (len(present) * counts[label]) if counts[label] else 0.0 for label in LABELS
    ]
    return torch.tensor(weights, dtype=torch.float32)


def _tokenize(tokenizer: Any, texts: Sequence[str], max_length: int) -> list[list[int]]:
    if not texts:
        return []
    encoded = tokenizer(
        ["query: " + text for text in texts], truncation=True, max_length=max_length
    )
    return [list(ids) for ids in encoded["input_ids"]]


def _batches(
    ids: Sequence[Sequence[int]], config: FineTuneConfig, epoch: int
) -> Iterator[list[int]]:
    """The epoch's batches: shuffled, then sorted by length within pools of 50 batches."""
    order = list(range(len(ids)))
    random.Random(config.seed * 1000 + epoch).shuffle(order)  # noqa: S311 (data order)
    pool = config.batch_size * 50
    batches = []
    for start in range(0, len(order), pool):
        chunk = sorted(order[start : start + pool], key=lambda i: len(ids[i]))
        batches += [
            chunk[i : i + config.batch_size] for i in range(0, len(chunk), config.batch_size)
        ]
    random.Random(config.seed * 1000 + epoch + 1).shuffle(batches)  # noqa: S311
    yield from batches


def _pad(ids: Sequence[Sequence[int]], rows: Sequence[int], device: str) -> tuple[Any, Any]:
    import torch

    width = max(len(ids[i]) for i in rows)
    tokens = torch.full((len(rows), width), 1, dtype=torch.long)  # 1: XLM-R's <pad>
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for n, i in enumerate(rows):
        tokens[n, : len(ids[i])] = torch.tensor(ids[i])
        mask[n, : len(ids[i])] = 1
    return tokens.to(device), mask.to(device)


def predict(
    net: Any, ids: Sequence[Sequence[int]], device: str, *, batch_size: int = 64, bf16: bool = False
) -> "torch.Tensor":
    """Class probabilities for tokenized texts, in order (length-sorted batches inside)."""
    import torch

    net.eval()
    out = torch.empty((len(ids), len(LABELS)))
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
    with torch.inference_mode(), _autocast(device, bf16)():
        for start in range(0, len(order), batch_size):
            rows = order[start : start + batch_size]
            tokens, mask = _pad(ids, rows, device)
            logits, _ = net(tokens, mask)
            out[rows] = torch.softmax(logits.float(), dim=-1).cpu()
    return out


def _validate(
    net: Any,
    ids: Sequence[Sequence[int]],
    val: Sequence[Example],
    device: str,
    config: FineTuneConfig,
    report: Report | None,
) -> dict[str, Any]:
    if not val:
        return {}
    if report:
        report("validate", 0, len(val))
    labels = [LABELS[i] for i in predict(net, ids, device, bf16=config.bf16).argmax(dim=1)]
    return score_groups(val, labels)


def score_groups(examples: Sequence[Example], predicted: Sequence[str]) -> dict[str, Any]:
    """Macro-F1 per group (binary groups scored on their two classes) and their mean."""
    report = evaluate([e.label for e in examples], predicted, [e.group for e in examples])
    groups = {name: round(s["macro_f1"] * 100, 2) for name, s in report["by_language"].items()}
    return {"groups": groups, "mean": round(sum(groups.values()) / len(groups), 2)}


def _remember(
    state: dict[str, Any], step: int, loss: float, scores: dict[str, Any], net: Any
) -> dict[str, Any]:
    entry = {"step": step, "loss": round(loss, 4), **scores}
    state = {**state, "step": step, "history": [*state["history"], entry]}
    if not scores or scores["mean"] > state["best"].get("mean", -1.0):
        state["best"] = entry
        state["best_state"] = {k: v.detach().clone() for k, v in _trainable_state(net).items()}
    return state


def _trainable_state(net: Any) -> dict[str, "torch.Tensor"]:
    """The parameters that training changes (LoRA factors or unfrozen layers, and the head)."""
    return {name: p.detach() for name, p in net.named_parameters() if p.requires_grad}


def _fingerprint(config: FineTuneConfig, train: Sequence[Example], val: Sequence[Example]) -> str:
    import hashlib

    digest = hashlib.sha256(json.dumps(asdict(config), sort_keys=True).encode())
    for example in [*train, *val]:
        digest.update(f"{example.group}\x1f{example.label}\x1f{example.text}\x1e".encode())
    return digest.hexdigest()


def _resume(
    path: Path, fingerprint: str, net: Any, optimizer: Any, schedule: Any
) -> dict[str, Any]:
    import torch

    fresh = {"step": 0, "history": [], "best": {}, "best_state": None, "seconds": 0.0}
    if not path.exists():
        return fresh
    saved = torch.load(path, map_location="cpu", weights_only=False)  # our own file
    if saved.get("fingerprint") != fingerprint:
        return fresh  # other settings or data: start over
    net.load_state_dict(saved["trainable"], strict=False)
    optimizer.load_state_dict(saved["optimizer"])
    schedule.load_state_dict(saved["schedule"])
    torch.set_rng_state(saved["rng"])
    state: dict[str, Any] = saved["state"]
    return state


def _save_checkpoint(
    path: Path, fingerprint: str, state: dict[str, Any], net: Any, optimizer: Any, schedule: Any
) -> None:
    import torch

    partial = path.with_name(path.name + ".partial")
    torch.save(
        {
            "fingerprint": fingerprint,
            "trainable": {
                k: v.detach().cpu() for k, v in net.named_parameters() if v.requires_grad
            },
            "optimizer": optimizer.state_dict(),
            "schedule": schedule.state_dict(),
            "rng": torch.get_rng_state(),
            "state": state,
        },
        partial,
    )
    partial.replace(path)


def _autocast(device: str, bf16: bool) -> Callable[[], Any]:
    import contextlib

    import torch

    kind = "cuda" if device.startswith("cuda") else "cpu"
    usable = bf16 and (kind == "cuda" or torch.backends.mkldnn.is_available())  # type: ignore[no-untyped-call]
    if not usable:
        return contextlib.nullcontext
    return lambda: torch.autocast(kind, dtype=torch.bfloat16)


def _seed_everything(seed: int) -> None:
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
