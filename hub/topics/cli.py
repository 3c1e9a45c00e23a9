"""`feedback-hub topics`: the taxonomy (discover new topics, merge two)."""

from typing import Annotated

import typer

from hub.cli_support import console, database, fail
from hub.config import get_settings
from hub.errors import HubError
from hub.store.engine import session_scope
from hub.topics.curation import merge_topics

topics_app = typer.Typer(help="The topic taxonomy.")


@topics_app.command("discover")
def topics_discover(
    days: Annotated[int, typer.Option(min=1, help="Look at feedback of the last DAYS")] = 30,
    min_size: Annotated[int, typer.Option(min=2, help="Smallest group worth a topic")] = 4,
) -> None:
    """Suggest topics from recent feedback that fits none (stored inactive, to review)."""
    from hub.enrichment.pipeline import topic_embedder
    from hub.topics.discovery import discover_topics

    embedder = topic_embedder(get_settings())
    with database() as engine, session_scope(engine) as session:
        suggested = discover_topics(session, embedder=embedder, days=days, min_size=min_size)
    if not suggested:
        console.print("no group of unplaced feedback is large enough to suggest a topic")
    for topic in suggested:
        console.print(f"[bold]{topic.key}[/bold]  {topic.name}  ({topic.description})")
        for example in topic.examples["discovered"][:3]:
            console.print(f"    “{example[:100]}”", markup=False)


@topics_app.command("merge")
def topics_merge(
    key: Annotated[str, typer.Argument(help="The topic that goes")],
    into: Annotated[str, typer.Option(help="The topic that stays and takes everything of KEY")],
) -> None:
    """Merge a topic into another: its items, examples, subtopics and rules move, it is deleted."""
    try:
        with database() as engine, session_scope(engine) as session:
            merged = merge_topics(session, key=key, into=into)
    except HubError as exc:
        raise fail(exc) from exc
    rules = f"; rules now naming it: {', '.join(merged.rules)}" if merged.rules else ""
    console.print(f"merged {key} into {merged.topic.key}: {merged.moved} items moved{rules}")
