"""Observability: Prometheus metrics, structured logs with a request id, readiness, and the
worker heartbeat.

``metrics`` defines the process's metrics and the HTTP middleware that fills them; ``queues``
reads queue depths from the database at scrape time; ``logs`` configures logging (text or
JSON) and ``request_id`` ties every line of a request together; ``readiness`` answers
``/readyz``; ``heartbeat`` keeps a row per running worker; ``system`` gathers the admin System
page; ``api`` holds the ``/metrics`` and ``/readyz`` routes and ``cli`` the ``worker-health``
command.
"""
