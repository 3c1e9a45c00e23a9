"""Language identification with the real lingua models."""

import pytest

from nlp.language import UNKNOWN, LinguaDetector


@pytest.fixture(scope="module")
def detector() -> LinguaDetector:
    return LinguaDetector(["en", "es", "pt", "fr", "de", "it"])


def test_english_spanish_portuguese(detector: LinguaDetector) -> None:
    texts = [
        "The app crashes every time I open the checkout",
        "El repartidor llegó dos horas tarde y sin los huevos",
        "O entregador chegou atrasado e faltou metade do pedido",
        "Cobrança duplicada de novo, ninguém responde no chat",
        "Me cobraron dos veces la suscripción Plus",
        "Customer support sorted my refund in five minutes",
    ]
    assert detector.detect(texts) == ["en", "es", "pt", "pt", "es", "en"]


def test_too_short_or_unclear_is_unknown(detector: LinguaDetector) -> None:
    assert detector.detect(["ok", "👍", "", "   ", "10/10", "top"]) == [UNKNOWN] * 6


def test_unknown_language_codes_are_refused() -> None:
    with pytest.raises(ValueError, match="xx"):
        LinguaDetector(["en", "xx"])
