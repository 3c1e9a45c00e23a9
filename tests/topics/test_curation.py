"""Curating topics (accept, rename, merge, remove) keeps items, rules and rollups right."""

from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlmodel import Session, col, select
from typer.testing import CliRunner

from hub.cli import app
from hub.errors import Conflict, InvalidInput, NotFound
from hub.feedback.service import ingest
from hub.metrics.service import tracking
from hub.routing.models import RoutingRule
from hub.store.engine import session_scope
from hub.topics.curation import accept_topic, drop_suggestions, merge_topics, remove_topic
from hub.topics.models import FeedbackTopic, Topic, TopicAccept, TopicOrigin, TopicUpdate
from hub.topics.service import (
    correct_topics,
    seed_topics,
    store_model_topics,
    taxonomy_version,
    topic_examples,
    update_topic,
)
from hub.users.models import TeamCreate
from hub.users.service import create_team
from tests.conftest import Database
from tests.factories import item
from tests.metrics.test_rollups import assert_rollups_match_rebuild, snapshot


@dataclass
class Items:
    """Four items: x, y, z, w (ids), with topics set by each test."""

    x: int
    y: int
    z: int
    w: int


@pytest.fixture
def items(db: Database) -> Items:
    with session_scope(db.engine) as session:
        seed_topics(session)
        days = ["2026-10-01", "2026-10-02", "2026-10-02", "2026-10-03"]
        summary = ingest(
            session, raw_items=[item(created_at=f"{day}T10:00:00Z", score=i) for i, day in
                                enumerate(days)]
        )  # fmt: skip
        ids = [result.id for result in summary.results]
    assert all(ids)
    return Items(*ids)  # type: ignore[arg-type]


def suggest(db: Database, key: str = "discovered_parking_pickup") -> None:
    """Store a suggestion as discovery does: inactive, with verbatims."""
    with session_scope(db.engine) as session:
        session.add(
            Topic(key=key, name="parking · pickup", origin=TopicOrigin.discovered, active=False,
                  description="Suggested from 5 items of the last 30 days that fit no topic.",
                  examples={"discovered": ["No parking at the pickup point"]})
        )  # fmt: skip


def add_rule(db: Database, name: str, topics: list[str]) -> None:
    with session_scope(db.engine) as session:
        team = create_team(session, data=TeamCreate(name=f"Team {name}"))
        position = len(session.exec(select(RoutingRule)).all()) + 1
        session.add(RoutingRule(name=name, position=position, team_id=team.id,
                                conditions={"topics": topics, "keywords": ["x"]}))  # fmt: skip


def rows_of(db: Database, feedback_id: int) -> dict[str, tuple[float, str]]:
    """An item's topics: key → (confidence, assigned_by)."""
    with Session(db.engine) as session:
        query = (
            select(Topic.key, FeedbackTopic.confidence, FeedbackTopic.assigned_by)
            .join(Topic, col(Topic.id) == FeedbackTopic.topic_id)
            .where(FeedbackTopic.feedback_id == feedback_id)
        )
        return {key: (confidence, by) for key, confidence, by in session.exec(query)}


def topic(db: Database, key: str) -> Topic | None:
    with Session(db.engine) as session:
        return session.exec(select(Topic).where(Topic.key == key)).first()


def rule_topics(db: Database) -> dict[str, list[str]]:
    with Session(db.engine) as session:
        return {r.name: r.conditions["topics"] for r in session.exec(select(RoutingRule))}


def snapshot_of(db: Database) -> dict[str, dict[tuple[object, ...], tuple[int, ...]]]:
    with Session(db.engine) as session:
        return snapshot(session)


def add_model_row(db: Database, feedback_id: int, key: str, confidence: float) -> None:
    """A model's topic beside a person's (the worker never mixes them; a merge can)."""
    with session_scope(db.engine) as session, tracking(session, [feedback_id]):
        found = session.exec(select(Topic).where(Topic.key == key)).one()
        assert found.id is not None
        session.add(FeedbackTopic(feedback_id=feedback_id, topic_id=found.id,
                                  confidence=confidence, assigned_by="model"))  # fmt: skip


# ---- accept and rename ---------------------------------------------------------------------


def test_accepting_a_suggestion_makes_it_curated_and_used(db: Database, items: Items) -> None:
    suggest(db)
    with session_scope(db.engine) as session:
        correct_topics(session, feedback_id=items.x, keys=["discovered_parking_pickup"])
        before = taxonomy_version(session)
    kept = snapshot_of(db)
    with session_scope(db.engine) as session:
        accepted = accept_topic(
            session, key="discovered_parking_pickup",
            data=TopicAccept(key="parking", name="Parking at pickup", parent="delivery"),
        )  # fmt: skip
    assert (accepted.key, accepted.name, accepted.parent) == ("parking", "Parking at pickup",
                                                              "delivery")  # fmt: skip
    assert (accepted.origin, accepted.active) == ("curated", True)
    with Session(db.engine) as session:
        assert taxonomy_version(session) != before  # workers rebuild their index
        assert "parking" in dict(topic_examples(session))
    assert rows_of(db, items.x) == {"parking": (1.0, "person")}
    assert snapshot_of(db) == kept  # the same topic id: its counts stay where they are
    assert_rollups_match_rebuild(db)


def test_only_suggestions_are_accepted_and_keys_stay_unique(db: Database, items: Items) -> None:
    suggest(db)
    with session_scope(db.engine) as session:
        with pytest.raises(InvalidInput, match="not a suggestion"):
            accept_topic(session, key="billing", data=TopicAccept())
        with pytest.raises(Conflict, match="'billing' exists already"):
            accept_topic(session, key="discovered_parking_pickup", data=TopicAccept(key="billing"))
        with pytest.raises(NotFound, match="no topic with key 'nope'"):
            accept_topic(session, key="nope", data=TopicAccept())
    found = topic(db, "discovered_parking_pickup")
    assert found is not None and not found.active


def test_a_new_key_keeps_history_and_rules(db: Database, items: Items) -> None:
    with session_scope(db.engine) as session:
        store_model_topics(session, assigned={items.x: [("billing", 0.8)], items.y: [
            ("billing", 0.6), ("delivery", 0.5)]})  # fmt: skip
    add_rule(db, "Money", ["billing", "refunds_returns"])
    kept = snapshot_of(db)
    with session_scope(db.engine) as session:
        renamed = update_topic(
            session, key="billing", data=TopicUpdate(key="payments", name="Payments")
        )
    assert (renamed.key, renamed.name) == ("payments", "Payments")
    assert rule_topics(db) == {"Money": ["payments", "refunds_returns"]}
    assert rows_of(db, items.x) == {"payments": (0.8, "model")}
    assert snapshot_of(db) == kept
    assert_rollups_match_rebuild(db)
    with session_scope(db.engine) as session, pytest.raises(Conflict):
        update_topic(session, key="payments", data=TopicUpdate(key="delivery"))
    with session_scope(db.engine) as session:
        update_topic(session, key="payments", data=TopicUpdate(parent="delivery"))
        with pytest.raises(InvalidInput, match="its own parent"):
            update_topic(session, key="payments", data=TopicUpdate(key="pay", parent="pay"))
        assert update_topic(session, key="payments", data=TopicUpdate(parent=None)).parent is None


def test_activating_a_suggestion_accepts_it(db: Database, items: Items) -> None:
    suggest(db)
    with session_scope(db.engine) as session:
        update_topic(session, key="discovered_parking_pickup", data=TopicUpdate(active=True))
    found = topic(db, "discovered_parking_pickup")
    assert found is not None and (found.origin, found.active) == ("curated", True)


# ---- merge ---------------------------------------------------------------------------------


def test_merge_moves_items_examples_children_and_rules(db: Database, items: Items) -> None:
    with session_scope(db.engine) as session:
        store_model_topics(session, assigned={
            items.x: [("pricing", 0.6)],
            items.y: [("pricing", 0.4), ("billing", 0.7)],
            items.w: [("billing", 0.5), ("delivery", 0.9)],
        })  # fmt: skip
        correct_topics(session, feedback_id=items.z, keys=["pricing"])
        update_topic(session, key="subscription", data=TopicUpdate(parent="pricing"))
    add_model_row(db, items.z, "billing", 0.9)  # z: a person's pricing, the model's billing
    add_rule(db, "Prices", ["pricing", "delivery"])
    add_rule(db, "Both", ["pricing", "billing"])
    add_rule(db, "Other", ["usability"])
    pricing, billing_before = topic(db, "pricing"), topic(db, "billing")
    assert pricing is not None and billing_before is not None

    with session_scope(db.engine) as session:
        merged = merge_topics(session, key="pricing", into="billing")

    assert (merged.topic.key, merged.moved, merged.rules) == ("billing", 3, ["Prices", "Both"])
    assert rows_of(db, items.x) == {"billing": (0.6, "model")}
    assert rows_of(db, items.y) == {"billing": (0.7, "model")}  # the more confident stays
    assert rows_of(db, items.z) == {"billing": (1.0, "person")}  # a person's wins
    assert rows_of(db, items.w) == {"billing": (0.5, "model"), "delivery": (0.9, "model")}
    assert topic(db, "pricing") is None
    child = topic(db, "subscription")
    billing = topic(db, "billing")
    assert child is not None and billing is not None and child.parent_id == billing.id
    assert set(pricing.examples["en"]) <= set(billing.examples["en"])
    before = billing_before.examples["en"]
    assert billing.examples["en"][: len(before)] == before  # billing's own come first
    assert rule_topics(db) == {"Prices": ["billing", "delivery"], "Both": ["billing"],
                               "Other": ["usability"]}  # fmt: skip
    with Session(db.engine) as session:
        kept = snapshot(session)["topic_rollup"]
    assert not any(key[1] == pricing.id for key in kept)
    assert sum(n[0] for key, n in kept.items() if key[1] == billing.id) == 4
    assert_rollups_match_rebuild(db)


def test_merging_into_a_descendant_puts_it_in_the_merged_topics_place(
    db: Database, items: Items
) -> None:
    with session_scope(db.engine) as session:
        update_topic(session, key="pricing", data=TopicUpdate(parent="loyalty_rewards"))
        update_topic(session, key="subscription", data=TopicUpdate(parent="pricing"))
        update_topic(session, key="billing", data=TopicUpdate(parent="subscription"))
        merge_topics(session, key="pricing", into="billing")
    found = {key: topic(db, key) for key in ("loyalty_rewards", "subscription", "billing")}
    ids = {key: t.id for key, t in found.items() if t}
    parents = {key: t.parent_id for key, t in found.items() if t}
    assert parents["billing"] == ids["loyalty_rewards"]
    assert parents["subscription"] == ids["billing"]


def test_a_suggestion_merges_into_a_topic(db: Database, items: Items) -> None:
    suggest(db)
    with session_scope(db.engine) as session:
        correct_topics(session, feedback_id=items.x, keys=["discovered_parking_pickup"])
        merge_topics(session, key="discovered_parking_pickup", into="delivery")
    delivery = topic(db, "delivery")
    assert delivery is not None
    assert delivery.examples["discovered"] == ["No parking at the pickup point"]
    assert rows_of(db, items.x) == {"delivery": (1.0, "person")}
    assert_rollups_match_rebuild(db)


@pytest.mark.parametrize(
    ("key", "into", "error", "fragment"),
    [
        ("billing", "billing", InvalidInput, "into itself"),
        ("billing", "discovered_parking_pickup", InvalidInput, "is a suggestion"),
        ("billing", "pricing", InvalidInput, "is inactive"),
        ("billing", "nope", NotFound, "'nope'"),
        ("nope", "billing", NotFound, "'nope'"),
    ],
)
def test_merges_that_make_no_sense_are_refused(
    db: Database, items: Items, key: str, into: str, error: type[Exception], fragment: str
) -> None:
    suggest(db)
    with session_scope(db.engine) as session:
        update_topic(session, key="pricing", data=TopicUpdate(active=False))
        store_model_topics(session, assigned={items.x: [("billing", 0.5)]})
    with session_scope(db.engine) as session, pytest.raises(error, match=fragment):
        merge_topics(session, key=key, into=into)
    assert rows_of(db, items.x) == {"billing": (0.5, "model")}


# ---- remove --------------------------------------------------------------------------------


def test_dismissing_a_suggestion_a_person_used_keeps_rollups_exact(
    db: Database, items: Items
) -> None:
    suggest(db)
    with session_scope(db.engine) as session:
        correct_topics(session, feedback_id=items.x, keys=["discovered_parking_pickup", "billing"])
        remove_topic(session, key="discovered_parking_pickup")
    assert topic(db, "discovered_parking_pickup") is None
    assert rows_of(db, items.x) == {"billing": (1.0, "person")}
    assert_rollups_match_rebuild(db)


def test_topics_in_use_are_merged_not_deleted(db: Database, items: Items) -> None:
    with session_scope(db.engine) as session:
        store_model_topics(session, assigned={items.x: [("billing", 0.5)]})
    add_rule(db, "Apps", ["app_bugs"])
    with session_scope(db.engine) as session:
        with pytest.raises(Conflict, match="1 items carry topic 'billing': merge it"):
            remove_topic(session, key="billing")
        with pytest.raises(Conflict, match="routing rules name topic 'app_bugs' \\('Apps'\\)"):
            remove_topic(session, key="app_bugs")
        update_topic(session, key="subscription", data=TopicUpdate(parent="onboarding"))
        update_topic(session, key="onboarding", data=TopicUpdate(parent="usability"))
        remove_topic(session, key="onboarding")
    usability, subscription = topic(db, "usability"), topic(db, "subscription")
    assert topic(db, "onboarding") is None and usability and subscription
    assert subscription.parent_id == usability.id  # the removed topic's child moved up
    assert topic(db, "billing") is not None and topic(db, "app_bugs") is not None


def test_new_discoveries_drop_old_suggestions_through_the_rollups(
    db: Database, items: Items
) -> None:
    suggest(db, "discovered_a")
    suggest(db, "discovered_b")
    add_rule(db, "Watch b", ["discovered_b"])
    with session_scope(db.engine) as session:
        correct_topics(session, feedback_id=items.y, keys=["discovered_a"])
        assert drop_suggestions(session) == 1
    assert topic(db, "discovered_a") is None
    assert topic(db, "discovered_b") is not None  # a rule relies on it
    assert rows_of(db, items.y) == {}
    assert_rollups_match_rebuild(db)


def test_the_cli_merges(db: Database, items: Items, cli_env: Path) -> None:
    with session_scope(db.engine) as session:
        store_model_topics(session, assigned={items.x: [("pricing", 0.6)]})
    add_rule(db, "Prices", ["pricing"])
    runner = CliRunner()
    done = runner.invoke(app, ["topics", "merge", "pricing", "--into", "billing"])
    assert done.exit_code == 0, done.output
    assert "merged pricing into billing: 1 items moved; rules now naming it: Prices" in done.output
    assert rows_of(db, items.x) == {"billing": (0.6, "model")}
    refused = runner.invoke(app, ["topics", "merge", "billing", "--into", "billing"])
    assert refused.exit_code == 2
    assert "cannot be merged into itself" in refused.output
