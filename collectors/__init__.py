"""Collectors: pull feedback from external APIs (app stores, social, support tools).

Each collector knows its source's API and the normalised item schema, never the database; the
runner in ``hub/sources`` stores pages, commits, then advances cursors. Collectors register
through the ``feedback_hub.collectors`` entry point. None ships yet: they arrive with the
Collectors issue.
"""
