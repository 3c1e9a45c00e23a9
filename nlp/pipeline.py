"""The enrichment pipeline: texts in, language (then sentiment and topics) out, in batches."""

from collections.abc import Sequence
from dataclasses import dataclass

from nlp.language import LanguageDetector


@dataclass(frozen=True, slots=True)
class Enrichment:
    """What the pipeline found in one text."""

    language: str


class Pipeline:
    """Runs each stage over a whole batch (stages are batched, not per text)."""

    def __init__(self, *, language: LanguageDetector) -> None:
        self.language = language

    @property
    def version(self) -> str:
        """Which models produced the results (stored with them, to know what to redo)."""
        return f"language={self.language.name}"

    def enrich(self, texts: Sequence[str]) -> list[Enrichment]:
        """One enrichment per text, in order."""
        languages = self.language.detect(texts)
        return [Enrichment(language=language) for language in languages]
