"""Enrichment: background workers claim pending feedback, run the NLP pipeline, store results."""
