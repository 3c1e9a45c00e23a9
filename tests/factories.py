"""Builders of valid feedback items for tests."""

import itertools
from typing import Any

_counter = itertools.count(1)


def item(**overrides: Any) -> dict[str, Any]:
    """A valid API item with a fresh external_id; keyword arguments override fields."""
    base: dict[str, Any] = {
        "source": "tests",
        "external_id": f"ext-{next(_counter)}",
        "channel": "survey",
        "text": "The delivery was late again and nobody told me why.",
        "score_type": "nps",
        "score": 3,
        "created_at": "2026-11-01T10:00:00Z",
        "customer": {"ref": "cus_1", "email": "ana@example.com", "name": "Ana", "segment": "smb"},
    }
    base.update(overrides)
    return {key: value for key, value in base.items() if value is not ...}
