"""Feedback Hub: collect, understand and act on customer feedback."""

__version__ = "0.1.0"
