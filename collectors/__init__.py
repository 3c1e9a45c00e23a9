"""Collectors: pull feedback from external APIs (app stores, social, support tools), or verify
and map what sources push (webhooks).

Each collector knows its source's API and the normalised item (``collectors.base``), never the
database; the runner in ``hub/sources`` stores pages, then advances cursors. Collectors register
through the ``feedback_hub.collectors`` entry point (``collectors.registry``), built-ins too.
"""
