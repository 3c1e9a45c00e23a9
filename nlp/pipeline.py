"""The enrichment pipeline: texts in, language, topics (and next, sentiment) out, in batches."""

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from nlp.language import LanguageDetector

if TYPE_CHECKING:
    from nlp.embedding import Embedder
    from nlp.sentiment import Sentiment, SentimentClassifier
    from nlp.topics import Assigned, TopicAssigner


@dataclass(frozen=True, slots=True)
class Enrichment:
    """What the pipeline found in one text."""

    language: str
    topics: list["Assigned"] = field(default_factory=list)
    sentiment: "Sentiment | None" = None


class Pipeline:
    """Runs each stage over a whole batch (stages are batched, not per text)."""

    def __init__(
        self,
        *,
        language: LanguageDetector,
        embedder: "Embedder | None" = None,
        topics: "TopicAssigner | None" = None,
        sentiment: "SentimentClassifier | None" = None,
    ) -> None:
        if (topics is not None or sentiment is not None) and embedder is None:
            raise ValueError("topics and sentiment need an embedder")
        self.language = language
        self.embedder = embedder
        self.topics = topics
        self.sentiment = sentiment

    @property
    def version(self) -> str:
        """Which models produced the results (stored with them, to know what to redo)."""
        parts = [f"language={self.language.name}"]
        if self.embedder is not None:
            parts.append(f"embedder={self.embedder.name}")
        if self.sentiment is not None:
            parts.append(f"sentiment={self.sentiment.name}")
        return ";".join(parts)

    def enrich(self, texts: Sequence[str]) -> list[Enrichment]:
        """One enrichment per text, in order."""
        languages = self.language.detect(texts)
        if self.embedder is None:
            return [Enrichment(language=language) for language in languages]
        vectors = self.embedder.embed(texts)  # once, for every stage that needs it
        none: list[None] = [None] * len(texts)
        topics = self.topics.assign(vectors) if self.topics else [[] for _ in texts]
        sentiments = self.sentiment.classify(vectors) if self.sentiment else none
        return [
            Enrichment(language=language, topics=assigned, sentiment=sentiment)
            for language, assigned, sentiment in zip(languages, topics, sentiments, strict=True)
        ]
