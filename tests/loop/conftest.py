"""The loop's browser tests share the page tests' Chromium fixture."""

from tests.web.conftest import browser

__all__ = ["browser"]
