"""Server-rendered web UI (jinja2, autoescaped, strict CSP, no inline script)."""
