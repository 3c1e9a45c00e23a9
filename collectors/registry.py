"""Collectors are found through the ``feedback_hub.collectors`` entry-point group.

Built-in sources register there too (see pyproject.toml), so a third-party package adds a source
by declaring an entry point: ``mysource = "my_package.module:MyCollector"``. The entry point's
name is the source kind.
"""

import logging
from functools import lru_cache
from importlib.metadata import entry_points

from collectors.base import InboundCollector, PullCollector

GROUP = "feedback_hub.collectors"
log = logging.getLogger(__name__)

Collector = PullCollector | InboundCollector


class UnknownKind(LookupError):
    """No collector is registered under this kind."""


@lru_cache(maxsize=1)
def registered() -> dict[str, Collector]:
    """Every collector that loads, by kind; a broken plugin is logged and left out."""
    found: dict[str, Collector] = {}
    for entry in entry_points(group=GROUP):
        try:
            loaded = entry.load()
            collector = loaded() if isinstance(loaded, type) else loaded
        except Exception:
            log.exception("collector %r (%s) failed to load; skipped", entry.name, entry.value)
            continue
        if not isinstance(collector, PullCollector | InboundCollector):
            log.error(
                "collector %r is neither a pull nor an inbound collector; skipped", entry.name
            )
            continue
        if collector.kind != entry.name:
            log.error("collector %r declares kind %r; skipped", entry.name, collector.kind)
            continue
        found[entry.name] = collector
    return dict(sorted(found.items()))


def get_collector(kind: str) -> Collector:
    """The collector registered as ``kind``."""
    collectors = registered()
    if kind not in collectors:
        known = ", ".join(collectors) or "none"
        raise UnknownKind(f"no collector of kind {kind!r} is installed (known: {known})")
    return collectors[kind]


def is_inbound(collector: Collector) -> bool:
    """Whether the source pushes to the hub (webhooks) rather than being pulled."""
    return not hasattr(collector, "pull")
