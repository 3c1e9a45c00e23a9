"""Fine-tuning e5 for sentiment: deterministic, resumable, saved small, served as embedder+head."""

from pathlib import Path

import numpy as np
import pytest
import torch

from nlp import e5_port
from nlp.embedding import model_cache_dir
from nlp.finetune import CHECKPOINT, Example, FineTuneConfig, Outcome, fine_tune, score_groups
from nlp.sentiment import HeadSentiment
from nlp.sentiment_net import WEIGHTS, compress, load_finetuned, read_model, save_model

TRAIN = [
    Example("I love it, works perfectly", "positive", "en"),
    Example("Terrible, it broke after a day", "negative", "en"),
    Example("The parcel arrived on Tuesday", "neutral", "en"),
    Example("Me encanta, funciona de maravilla", "positive", "es"),
    Example("Horrible, se rompió en un día", "negative", "es"),
    Example("El paquete llegó el martes", "neutral", "es"),
    Example("Adorei, funciona perfeitamente", "positive", "pt"),
    Example("Péssimo, quebrou em um dia", "negative", "pt"),
]
VAL = [
    Example("Great service, thank you", "positive", "val-en"),
    Example("Awful support, never again", "negative", "val-en"),
    Example("Ótimo atendimento", "positive", "val-pt"),
    Example("Atendimento péssimo", "negative", "val-pt"),
]
TINY = FineTuneConfig(
    method="lora", epochs=2, batch_size=4, lora_rank=2, lora_alpha=4, evals_per_epoch=1, seed=7
)


@pytest.fixture(scope="module")
def base() -> Path:
    return e5_port.ensure_e5_checkpoint(model_cache_dir())  # built once per machine


@pytest.fixture(scope="module")
def lora_run(base: Path, tmp_path_factory: pytest.TempPathFactory) -> Outcome:
    """One whole LoRA run, which the determinism and resume tests both compare against."""
    out = tmp_path_factory.mktemp("lora-run")
    return fine_tune(base, TRAIN, VAL, out=out, config=TINY, threads=2)


def test_scores_each_group_and_their_mean() -> None:
    scores = score_groups(VAL, ["positive", "positive", "positive", "negative"])
    assert scores["groups"] == {"val-en": pytest.approx(33.33, abs=0.01), "val-pt": 100.0}
    assert scores["mean"] == pytest.approx(66.67, abs=0.02)


def test_config_refuses_nonsense() -> None:
    with pytest.raises(ValueError, match="method"):
        FineTuneConfig(method="qlora")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="positive"):
        FineTuneConfig(epochs=0)


def test_refuses_unknown_labels(base: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown sentiment labels"):
        fine_tune(base, [Example("x", "angry", "en")], [], out=tmp_path, config=TINY)


def test_lora_run_is_deterministic_selected_on_val_and_loads_as_embedder_and_head(
    base: Path, lora_run: Outcome, tmp_path: Path
) -> None:
    first = lora_run
    second = fine_tune(base, TRAIN, VAL, out=tmp_path / "b", config=TINY, threads=2)
    assert first.steps == second.steps == 4
    assert [h["mean"] for h in first.history] == [h["mean"] for h in second.history]
    assert len(first.history) == 2 and first.best["mean"] == max(h["mean"] for h in first.history)
    card = {"name": "tiny", "labels": ["negative", "neutral", "positive"], "config": vars(TINY)}
    save_model(first.net, tmp_path / "model", card, method="lora")
    tensors, saved_card = read_model(tmp_path / "model")
    assert saved_card["name"] == "tiny" and saved_card["method"] == "lora"
    assert {"head.weight", "head.bias"} <= set(tensors)
    lora = [name for name in tensors if name.endswith(".lora_A")]
    assert len(lora) == 12 * 6  # q, k, v, attention output, FFN in, FFN out in 12 layers
    size = (tmp_path / "model" / WEIGHTS).stat().st_size
    assert size < 2_000_000  # rank 2: well under the base's 470 MB

    embedder, head = load_finetuned(tmp_path / "model", threads=2, cache_dir=base.parent)
    texts = [e.text for e in VAL]
    served = HeadSentiment(head, embedder, shared=True).classify(texts, embedder.embed(texts))
    from nlp.finetune import _tokenize, predict

    ids = _tokenize(embedder._tokenizer, texts, 128)
    expected = predict(first.net, ids, "cpu").numpy()
    got = np.array([[s.score] for s in served])
    assert np.allclose(got[:, 0], expected[:, 2] - expected[:, 0], atol=2e-3)


def test_an_interrupted_run_resumes_where_it_stopped(
    base: Path, lora_run: Outcome, tmp_path: Path
) -> None:
    whole = lora_run

    class Stop(Exception):
        pass

    def stop_after_first_eval(phase: str, done: int, total: int) -> None:
        if phase == "train" and done == 3:  # the epoch-1 evaluation wrote a checkpoint
            raise Stop

    with pytest.raises(Stop):
        fine_tune(base, TRAIN, VAL, out=tmp_path / "cut", config=TINY, threads=2,
                  report=stop_after_first_eval)  # fmt: skip
    assert (tmp_path / "cut" / CHECKPOINT).exists()
    steps: list[int] = []

    def record(phase: str, done: int, total: int) -> None:
        if phase == "train":
            steps.append(done)

    resumed = fine_tune(
        base, TRAIN, VAL, out=tmp_path / "cut", config=TINY, threads=2, report=record
    )
    assert steps[0] == 3  # started after the checkpoint's step 2, not from 1
    assert [h["mean"] for h in resumed.history] == [h["mean"] for h in whole.history]
    for (name, a), (_, b) in zip(
        whole.net.named_parameters(), resumed.net.named_parameters(), strict=True
    ):
        assert torch.equal(a, b), name


def test_a_broken_model_file_is_an_error_naming_it(tmp_path: Path) -> None:
    (tmp_path / "card.json").write_text('{"format": "feedback-hub/sentiment-model/1"}')
    (tmp_path / WEIGHTS).write_bytes(b"not a safetensors file")
    with pytest.raises(ValueError, match=str(tmp_path / WEIGHTS)):
        read_model(tmp_path)
    (tmp_path / "card.json").write_text("{")
    with pytest.raises(ValueError, match=r"card\.json"):
        read_model(tmp_path)


def test_a_full_fine_tune_saved_at_low_rank_is_smaller_and_full_rank_is_the_same(
    base: Path, tmp_path: Path
) -> None:
    from dataclasses import replace

    config = replace(TINY, method="full", epochs=1)
    outcome = fine_tune(base, TRAIN, [], out=tmp_path / "run", config=config, threads=2)
    card = {"name": "full", "labels": ["negative", "neutral", "positive"], "config": vars(config)}
    save_model(outcome.net, tmp_path / "whole", card, method="full")
    exact = compress(tmp_path / "whole", base, tmp_path / "exact", rank=384)
    small = compress(tmp_path / "whole", base, tmp_path / "small", rank=4)
    assert exact["delta"]["energy_kept_min"] > 0.999 and small["delta"]["rank"] == 4
    sizes = {name: (tmp_path / name / WEIGHTS).stat().st_size for name in ("whole", "small")}
    assert sizes["small"] < sizes["whole"] / 10
    texts = [e.text for e in VAL]
    scores = {}
    for name in ("whole", "exact", "small"):
        embedder, head = load_finetuned(tmp_path / name, threads=2, cache_dir=base.parent)
        scores[name] = np.array([s.score for s in head.classify(embedder.embed(texts))])
    assert np.allclose(scores["whole"], scores["exact"], atol=1e-3)
    assert not np.allclose(scores["whole"], scores["small"], atol=1e-6)  # rank 4 is lossy
