"""Discovery: groups of similar texts, named by their distinctive words."""

from collections.abc import Sequence

import numpy as np

from nlp.discovery import discover


def _vectors(texts: Sequence[str]) -> np.ndarray:
    """A vector per text from a few theme words (stands in for an embedder)."""
    themes = ("parking", "voucher", "weather")
    rows = np.array([[float(t in s) for t in themes] + [0.05] for s in texts], dtype=np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def test_groups_of_similar_texts_are_found_and_named() -> None:
    texts = [
        "No parking near the store, drivers block the street",
        "The parking lot is always full, find another spot",
        "Parking is impossible on Saturdays, parking fees too",
        "Estacionamento: parking impossível perto da loja",
        "The voucher code expired before I could use it",
        "Voucher rejected at checkout, voucher was valid",
        "My voucher disappeared from the account",
        "lonely text about weather",
        "see https://example.com/parking-help and @parking_bot #parking",
    ]
    clusters = discover(texts, _vectors(texts), similarity=0.9, min_size=3)
    assert [sorted(c.members) for c in clusters] == [[0, 1, 2, 3, 8], [4, 5, 6]]
    assert clusters[0].keywords[0] == "parking"
    assert clusters[1].keywords[0] == "voucher"
    assert set(clusters[1].examples) == {4, 5, 6}


def test_nothing_to_suggest_below_the_minimum_size() -> None:
    texts = ["parking one", "parking two", "voucher"]
    assert discover(texts, _vectors(texts), similarity=0.9, min_size=3) == []
