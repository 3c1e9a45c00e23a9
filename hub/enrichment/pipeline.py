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
    from nlp.sentiment import LinearHead


log = logging.getLogger(__name__)

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
        self._cache: dict[str, np.ndarray] = {}
        self._taxonomy: str | None = None
        self._pipeline: Pipeline | None = None

    def __call__(self, session: Session) -> "Pipeline":
        """The pipeline for the taxonomy as it is now."""
        from nlp.embedding import load_embedder
        from nlp.language import LinguaDetector
        from nlp.pipeline import Pipeline
        from nlp.topics import CALIBRATED, TopicAssigner, TopicSpec

        version = taxonomy_version(session)
        if self._pipeline is not None and version == self._taxonomy:
            return self._pipeline
        if self._language is None:
            self._language = LinguaDetector(self.settings.language_codes)
            self._embedder = load_embedder(
                self.settings.embedding_model,
                threads=self.settings.nlp_threads,
                device=self.settings.nlp_device,
            )
        assert self._embedder is not None
        topics = [TopicSpec(key, examples) for key, examples in topic_examples(session)]
        floor, margin = CALIBRATED.get(self._embedder.name, UNCALIBRATED)
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
            sentiment=self._sentiment_head(),
        )
        self._taxonomy = version
        return self._pipeline

    def _sentiment_head(self) -> "LinearHead | None":
        """The configured head, else the one shipped for this embedder, else none (no sentiment)."""
        from nlp.sentiment import LinearHead, shipped_head

        assert self._embedder is not None
        configured = self.settings.sentiment_head
        path = Path(configured) if configured else shipped_head(self._embedder.name)
        if not configured and not path.exists():
            log.warning("no sentiment head for %s: sentiment stays empty", self._embedder.name)
            return None
        head = LinearHead.load(path)
        head.check_embedder(self._embedder.name)
        return head
