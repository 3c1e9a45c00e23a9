"""Feedback: the unified store of everything customers said, and its ingest path."""
