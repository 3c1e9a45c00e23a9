"""The enrichment pipeline: texts in, language, topics (and next, sentiment) out, in batches."""

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from nlp.language import LanguageDetector

if TYPE_CHECKING:
    from nlp.embedding import Embedder
    from nlp.topics import Assigned, TopicAssigner


@dataclass(frozen=True, slots=True)
class Enrichment:
    """What the pipeline found in one text."""

    language: str
    topics: list["Assigned"] = field(default_factory=list)


class Pipeline:
    """Runs each stage over a whole batch (stages are batched, not per text)."""

    def __init__(
        self,
        *,
        language: LanguageDetector,
        embedder: "Embedder | None" = None,
        topics: "TopicAssigner | None" = None,
    ) -> None:
        if topics is not None and embedder is None:
            raise ValueError("topic assignment needs an embedder")
        self.language = language
        self.embedder = embedder
        self.topics = topics

    @property
    def version(self) -> str:
        """Which models produced the results (stored with them, to know what to redo)."""
        parts = [f"language={self.language.name}"]
        if self.embedder is not None:
            parts.append(f"embedder={self.embedder.name}")
        return ";".join(parts)

    def enrich(self, texts: Sequence[str]) -> list[Enrichment]:
        """One enrichment per text, in order."""
        languages = self.language.detect(texts)
        if self.topics is None or self.embedder is None:
            return [Enrichment(language=language) for language in languages]
        assigned = self.topics.assign(self.embedder.embed(texts))
        return [
            Enrichment(language=language, topics=topics)
            for language, topics in zip(languages, assigned, strict=True)
        ]
