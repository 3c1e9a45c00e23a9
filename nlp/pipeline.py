"""The enrichment pipeline: texts in, language, topics and sentiment out, in batches."""

import unicodedata
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

    def enrich(
        self, texts: Sequence[str], hints: Sequence[str | None] | None = None
    ) -> list[Enrichment]:
        """One enrichment per text, in order; ``hints``: each text's claimed language or None."""
        languages = self.language.detect(texts, hints)
        if self.embedder is None:
            return [Enrichment(language=language) for language in languages]
        # A text with no letter, digit or symbol (blank, punctuation) carries no sentiment or topic
        rows = [i for i, text in enumerate(texts) if _has_content(text)]
        found = [Enrichment(language=language) for language in languages]
        if not rows:
            return found
        kept = [texts[i] for i in rows]
        vectors = self.embedder.embed(kept)  # once, for every stage that needs it
        topics = self.topics.assign(vectors) if self.topics else [[] for _ in kept]
        sentiments = (
            self.sentiment.classify(kept, vectors) if self.sentiment else [None] * len(kept)
        )
        for i, assigned, sentiment in zip(rows, topics, sentiments, strict=True):
            found[i] = Enrichment(language=languages[i], topics=assigned, sentiment=sentiment)
        return found


def _has_content(text: str) -> bool:
    """Whether ``text`` has a letter, digit or symbol (emoji count: they carry sentiment)."""
    return any(unicodedata.category(char)[0] in "LNS" for char in text)
