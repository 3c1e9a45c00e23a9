"""Language identification: ISO 639-1 codes, or "unknown" for text too short or too mixed."""

from collections.abc import Sequence
from typing import Protocol

UNKNOWN = "unknown"


class LanguageDetector(Protocol):
    """Texts in, one language code per text out."""

    name: str

    def detect(self, texts: Sequence[str]) -> list[str]:
        """An ISO 639-1 code (``en``) or ``unknown`` for each text."""
        ...


class LinguaDetector:
    """Lingua restricted to the languages a deployment expects (accurate on short texts).

    Restricting matters: lingua with every language is slow and large; with a handful it is
    ~30 µs a text. Text with fewer than ``min_letters`` letters, or whose best guess is less
    sure than ``min_confidence``, is ``unknown`` ("ok", "👍", "top").
    """

    def __init__(
        self, languages: Sequence[str], *, min_confidence: float = 0.5, min_letters: int = 3
    ) -> None:
        from lingua import IsoCode639_1, Language, LanguageDetectorBuilder

        try:
            wanted = [Language.from_iso_code_639_1(IsoCode639_1.from_str(c)) for c in languages]
        except ValueError as exc:
            raise ValueError(f"unsupported language code among {list(languages)}") from exc
        self._detector = (
            LanguageDetectorBuilder.from_languages(*wanted).with_preloaded_language_models().build()
        )
        self.min_confidence = min_confidence
        self.min_letters = min_letters
        self.name = f"lingua[{','.join(sorted(languages))}]"

    def detect(self, texts: Sequence[str]) -> list[str]:
        """An ISO 639-1 code or ``unknown`` for each text."""
        results = [UNKNOWN] * len(texts)
        judged = [i for i, text in enumerate(texts) if _letters(text) >= self.min_letters]
        values = self._detector.compute_language_confidence_values_in_parallel(
            [texts[i] for i in judged]
        )
        for index, candidates in zip(judged, values, strict=True):
            best = candidates[0] if candidates else None
            if best is not None and best.value >= self.min_confidence:
                results[index] = best.language.iso_code_639_1.name.lower()
        return results


def _letters(text: str) -> int:
    return sum(1 for char in text if char.isalpha())
