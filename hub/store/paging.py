"""Offset cursors for lists ranked in a way no key can resume (a queue's sort, a risk score)."""

import base64
import binascii

from hub.errors import InvalidInput

MAX_OFFSET = 2**31 - 1  # far past any real list; a forged huge one made the database fail


def offset_cursor(offset: int) -> str:
    """The opaque cursor of the page that starts at ``offset``."""
    return base64.urlsafe_b64encode(str(offset).encode()).decode()


def cursor_offset(cursor: str | None) -> int:
    """The offset a cursor names (0 without one); a forged or damaged cursor is a 422."""
    if not cursor:
        return 0
    try:
        offset = int(base64.urlsafe_b64decode(cursor.encode()).decode())
    except (ValueError, binascii.Error):
        offset = -1
    if not 0 <= offset <= MAX_OFFSET:
        raise InvalidInput(
            "`cursor` is not a cursor this API returned",
            details=[{"loc": ["query", "cursor"], "message": "malformed cursor"}],
        )
    return offset
