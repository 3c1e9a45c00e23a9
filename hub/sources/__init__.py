"""Sources: the configured origins of feedback (collectors, widgets, imports, the API)."""
