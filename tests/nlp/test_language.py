"""Language identification with the real lingua models: cleaning, hints as a prior, evaluation."""

import json
from pathlib import Path

import pytest

from nlp.language import (
    UNKNOWN,
    LinguaDetector,
    clean_text,
    evaluate_language,
    language_accuracy,
    language_code,
    letter_count,
    read_language_records,
)


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


def test_social_noise_does_not_decide_the_language(detector: LinguaDetector) -> None:
    texts = [
        # On the raw text lingua says English for the first three (the handles and hashtags).
        "@MarketingLive @ProductHunt #BlackFriday #CyberMonday a entrega atrasou",
        "#BlackFriday #CyberMonday #Deals la entrega llegó tarde",
        "@HappyCustomerCare @BestBuySupport no me devolvieron el dinero",
        "\\u00d3timo atendimento, n\\u00e3o tenho do que reclamar",
        "@SupportTeam my order #12345 never arrived, see www.example.com/orders",
    ]
    assert detector.detect(texts) == ["pt", "es", "es", "pt", "en"]


@pytest.mark.parametrize(
    ("raw", "cleaned"),
    [
        ("@user thanks!", "thanks!"),
        ("great #MasterChefBR show", "great show"),
        ("see https://t.co/AbC and www.example.com/x now", "see and now"),
        ("write to ana.maria+hub@example.co.uk please", "write to please"),
        ("c\\u2019mon, it\\u002cs fine", "c\u2019mon, it,s fine"),
        ("caf\\u00e9 \\ud83d\\ude02 ok", "café 😂 ok"),
        ("lone \\ud83d escape", "lone escape"),
        ("this &amp; that &gt; other", "this & that > other"),
        ("sooooo goooood!!!", "so god!!!"),
        ("tab\there\x00and\x1bthere \ud800 end", "tab here and there end"),
        ("e\u0301 decomposed", "é decomposed"),
        ("  \n ", ""),
    ],
)
def test_cleaning(raw: str, cleaned: str) -> None:
    assert clean_text(raw) == cleaned


def test_letters_are_letters_only() -> None:
    assert letter_count("10/10 👍👍 !!") == 0
    assert letter_count("Facílimo! 100%") == 8


@pytest.mark.parametrize(
    ("value", "code"),
    [("pt-BR", "pt"), ("pt_BR", "pt"), ("PT", "pt"), (" es ", "es"), ("zh-Hant-TW", "zh")],
)
def test_language_codes_from_locales(value: str, code: str) -> None:
    assert language_code(value) == code


@pytest.mark.parametrize("value", [None, "", "eng", "english", "p", "12", "-pt", 7, ["pt"]])
def test_anything_else_is_no_code(value: object) -> None:
    assert language_code(value) is None


def test_a_hint_decides_an_ambiguous_text(detector: LinguaDetector) -> None:
    # "Excelente" is Portuguese and Spanish alike; lingua leans pt (0.51 against 0.37).
    assert detector.detect(["Excelente"]) == ["pt"]
    assert detector.detect(["Excelente", "Excelente"], ["es", "pt-BR"]) == ["es", "pt"]


def test_a_hint_does_not_override_clear_text(detector: LinguaDetector) -> None:
    texts = [
        "The app crashes every time I open the checkout",
        "El repartidor llegó dos horas tarde y sin los huevos",
        "O entregador chegou atrasado e faltou metade do pedido",
    ]
    assert detector.detect(texts, ["pt", "pt", "es"]) == ["en", "es", "pt"]


def test_hints_outside_the_configured_languages_are_ignored(detector: LinguaDetector) -> None:
    assert detector.detect(["Excelente", "ok"], ["ja", "xx-YY"]) == ["pt", UNKNOWN]
    assert detector.detect(["Excelente"], [None]) == ["pt"]


def test_short_text_is_unknown_without_a_hint(detector: LinguaDetector) -> None:
    assert detector.detect(["ok", "👍", "", "   ", "10/10", "top", "@user #tag"]) == [UNKNOWN] * 7


def test_short_text_takes_a_usable_hint(detector: LinguaDetector) -> None:
    texts = ["ok", "👍", "top", "Boa", "ok"]
    assert detector.detect(texts, ["pt-BR", "es", "en", "PT", "ja"]) == [
        "pt", "es", "en", "pt", UNKNOWN,
    ]  # fmt: skip


def test_short_but_telling_text_is_still_judged(detector: LinguaDetector) -> None:
    assert detector.detect(["Facílimo!", "Obrigado", "Gracias"]) == ["pt", "pt", "es"]


def test_text_in_no_configured_language_is_unknown_even_with_a_hint(
    detector: LinguaDetector,
) -> None:
    assert detector.detect(["Привет, как дела? Спасибо!"], ["pt"]) == [UNKNOWN]


def test_odd_input_never_raises(detector: LinguaDetector) -> None:
    texts = [
        "",
        "😀😀😀🎉",
        "\x00\x01\x1b[31m\x7f",
        "bad \ud800 surrogate in otherwise English text",
        "\\ud83d",
        "The delivery was late again and nobody told me why. " * 20_000,  # ~1 MB
        "a" * 10_000,
        "\u200b\u200d\ufeff",
    ]
    results = detector.detect(texts, ["pt", None, "es", None, "en", None, None, "de"])
    assert len(results) == len(texts)
    assert results[0] == "pt"
    assert results[3] == "en"
    assert results[5] == "en"


def test_hints_must_match_the_texts(detector: LinguaDetector) -> None:
    with pytest.raises(ValueError, match="2 hints for 1 texts"):
        detector.detect(["hello there"], ["en", "pt"])


def test_unknown_language_codes_are_refused() -> None:
    with pytest.raises(ValueError, match="xx"):
        LinguaDetector(["en", "xx"])


def test_accuracy_per_language() -> None:
    report = language_accuracy(["en", "en", "pt", "pt", "pt"], ["en", UNKNOWN, "pt", "es", UNKNOWN])
    assert report == {
        "en": {"n": 2, "correct": 1, "unknown": 1, "accuracy": 0.5},
        "pt": {"n": 3, "correct": 1, "unknown": 1, "accuracy": 1 / 3},
        "overall": {"n": 5, "correct": 2, "unknown": 2, "accuracy": 0.4},
    }


def test_evaluation_on_a_labelled_file(detector: LinguaDetector, tmp_path: Path) -> None:
    path = tmp_path / "labelled.jsonl"
    rows = [
        {"text": "The courier left my parcel in the rain again", "language": "en"},
        {"text": "short", "language": "en"},
        {"text": "O aplicativo não abre desde a última atualização", "language": "pt-BR"},
        {"text": "La aplicación se cierra cada vez que intento pagar", "language": "es"},
    ]
    path.write_text("\n".join(json.dumps(row) for row in rows) + "\n\n", encoding="utf-8")
    records = read_language_records([path], min_chars=20)
    assert [r["language"] for r in records] == ["en", "pt-BR", "es"]
    report = evaluate_language(detector, records, batch=2)
    assert {k: (v["n"], v["accuracy"]) for k, v in report.items()} == {
        "en": (1, 1.0), "es": (1, 1.0), "pt": (1, 1.0), "overall": (3, 1.0),
    }  # fmt: skip


@pytest.mark.parametrize(
    ("line", "message"),
    [("not json", "not JSON"), ('{"text": "hi"}', "needs string fields"), ("[1]", "needs")],
)
def test_bad_labelled_lines_are_named(tmp_path: Path, line: str, message: str) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(f'{{"text": "fine", "language": "en"}}\n{line}\n', encoding="utf-8")
    with pytest.raises(ValueError, match=f"bad.jsonl:2: {message}"):
        read_language_records([path])
