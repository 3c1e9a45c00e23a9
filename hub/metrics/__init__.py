"""Metrics (NPS, CSAT, CES, thumbs, stars, sentiment) and topic trends, read from rollups."""
