"""Logging for every process: text for people, JSON for collectors (``HUB_LOG_FORMAT``).

The hub's modules log through the standard library; structlog's formatter renders every line
(uvicorn's and SQLAlchemy's too) and adds what is bound in context: the request id during a
request, and fixed fields of the process, such as a worker's owner.
"""

import logging
from typing import Any, Literal

import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

HANDLER_NAME = "feedback-hub"
QUIET = ("alembic",)  # one line per migration step is noise on every start


def configure_logging(*, level: str, log_format: Literal["text", "json"], **fields: Any) -> None:
    """Send every log record to stderr as text or JSON lines, with ``fields`` on each.

    Safe to call again (a test, a spawned process): it replaces only its own handler.
    """
    handler = logging.StreamHandler()
    handler.set_name(HANDLER_NAME)
    handler.setFormatter(formatter(log_format, **fields))
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == HANDLER_NAME]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    if level != "debug":
        for name in QUIET:
            logging.getLogger(name).setLevel(logging.WARNING)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers.clear()  # theirs would print each line a second time
        logging.getLogger(name).propagate = True


def formatter(log_format: Literal["text", "json"], **fields: Any) -> logging.Formatter:
    """A formatter that merges the bound context and ``fields`` into each record."""
    renderer: Processor = (
        structlog.processors.JSONRenderer()
        if log_format == "json"
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    chain: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        _fixed(fields),
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.stdlib.ExtraAdder(),
        _drop_color_message,
    ]
    processors: list[Processor] = [structlog.stdlib.ProcessorFormatter.remove_processors_meta]
    if log_format == "json":
        processors.append(structlog.processors.format_exc_info)
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=chain, processors=[*processors, renderer]
    )


def _fixed(fields: dict[str, Any]) -> Processor:
    def add(_logger: WrappedLogger, _name: str, event: EventDict) -> EventDict:
        for key, value in fields.items():
            event.setdefault(key, value)
        return event

    return add


def _drop_color_message(_logger: WrappedLogger, _name: str, event: EventDict) -> EventDict:
    event.pop("color_message", None)  # uvicorn's ANSI-coloured copy of the message
    return event
