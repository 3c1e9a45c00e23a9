"""Closing the loop: the follow-up survey sent when a case closes, and the loop's metrics.

- ``tokens``: the signed one-click answer links (HMAC-SHA256, expiring).
- ``models``: the follow-up table and the metrics schemas.
- ``texts``: the email and page texts per language (en, es, pt).
- ``followup``: sending on close, storing an answer and its comment as feedback.
- ``stats`` and ``metrics``: percentiles, Wilson intervals, and the loop metrics per team/agent.
- ``window``: the reporting window in whole UTC days.
- ``api``: ``GET /api/v1/cases/metrics``.
"""
