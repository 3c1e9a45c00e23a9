"""Follow-ups: the one-question survey a customer gets when their case closes, and its answer.

Sending goes through the notifications outbox in the closing transaction (a rolled-back close
sends nothing). The answer is feedback of the ``follow-ups`` source (channel survey, score type
csat or thumbs), linked to the customer, and to the case through the ``case_followup`` row; a
second click changes the same item, never adds one.
"""

from datetime import datetime, timedelta

from sqlmodel import Session, select

from hub.cases.models import Case, EventKind
from hub.cases.service import record
from hub.config import Settings
from hub.customers.models import Customer, CustomerIn
from hub.errors import InvalidInput, NotFound
from hub.feedback.models import Feedback, FeedbackIn, NlpState
from hub.feedback.service import PreparedItem, store_items
from hub.loop import tokens
from hub.loop.models import SOURCE_KIND, SOURCE_NAME, Followup, FollowupKind
from hub.loop.texts import choices, email_text, language_of
from hub.metrics.service import tracking
from hub.notifications.models import EventType
from hub.notifications.service import enqueue
from hub.store.types import utcnow
from hub.store.wakeups import FEEDBACK_PENDING, announce

MAX_COMMENT = 5000


def send_followup(session: Session, *, settings: Settings, case: Case, actor: str) -> None:
    """Queue the follow-up email of a case that just closed, once per case, when follow-ups
    are on and the customer has an email (and email is set up: else nothing is sent)."""
    if not settings.followup_enabled or case.id is None:
        return
    if session.exec(select(Followup.id).where(Followup.case_id == case.id)).first() is not None:
        return  # surveyed when it closed before
    feedback = session.get(Feedback, case.feedback_id)
    customer = (
        session.get(Customer, feedback.customer_id) if feedback and feedback.customer_id else None
    )
    if feedback is None or customer is None or not customer.email:
        return
    kind, language = FollowupKind(settings.followup_kind), language_of(feedback.language)
    ttl = timedelta(days=settings.followup_ttl_days)
    now = utcnow()
    token = tokens.sign(settings.secret_key.get_secret_value(), case_id=case.id, ttl=ttl, now=now)
    subject, text = email_text(
        kind=kind, language=language, case_id=case.id, name=customer.name,
        link=f"{public_base(settings)}/followup/{token}", expires=f"{now + ttl:%Y-%m-%d}",
    )  # fmt: skip
    sent = enqueue(
        session, settings=settings, event_type=EventType.case_followup, case_id=case.id,
        subject=subject, text=text, data={}, to_emails=[customer.email], broadcast=False,
    )  # fmt: skip
    if not sent:  # email is off: no follow-up went out
        return
    session.add(Followup(case_id=case.id, kind=kind.value, language=language,
                         sent_to=customer.email, sent_at=now, expires_at=now + ttl))  # fmt: skip
    after = {"to": customer.email, "kind": kind.value, "language": language,
             "expires_at": (now + ttl).isoformat()}  # fmt: skip
    record(session, case, EventKind.followup_sent, actor, after=after)


def public_base(settings: Settings) -> str:
    """Where customers reach the hub: ``HUB_PUBLIC_URL``, else the address it listens on."""
    return settings.public_url or f"http://{settings.host}:{settings.port}"


def followup_of(
    session: Session, *, settings: Settings, token: str, now: datetime | None = None
) -> Followup:
    """The follow-up a genuine, unexpired token is for (``tokens.BadToken`` or
    ``tokens.ExpiredToken`` otherwise; ``NotFound`` when its case is gone)."""
    claim = tokens.verify(settings.secret_key.get_secret_value(), token, now=now)
    followup = session.exec(select(Followup).where(Followup.case_id == claim.case_id)).first()
    if followup is None:
        raise NotFound(f"no follow-up for case {claim.case_id}")
    return followup


def answer(session: Session, *, followup: Followup, score: int) -> Feedback:
    """Store (or change) the customer's answer; a score not offered is refused (422)."""
    kind = FollowupKind(followup.kind)
    offered = [value for value, _label in choices(kind, followup.language)]
    if score not in offered:
        raise InvalidInput(
            f"score must be one of {', '.join(map(str, sorted(offered)))} "
            f"for a {kind.value} follow-up",
            details=[{"loc": ["query", "score"], "message": f"not one of {sorted(offered)}"}],
        )
    case = session.get(Case, followup.case_id)
    assert case is not None  # the follow-up row goes with its case
    feedback = _answer_feedback(session, followup, case, kind, score)
    before = {"score": followup_score(session, followup)} if followup.answered_at else None
    if feedback.score != score:
        with tracking(session, [feedback.id or 0]):  # the score moves between rollup counts
            feedback.score = score
            session.add(feedback)
            session.flush()
    followup.feedback_id, followup.answered_at = feedback.id, utcnow()
    session.add(followup)
    if before != {"score": score}:
        after = {"score": score, "kind": kind.value, "feedback_id": feedback.id}
        record(session, case, EventKind.followup_answered, "customer", before=before, after=after)
    return feedback


def add_comment(session: Session, *, followup: Followup, comment: str) -> Feedback:
    """Keep the customer's comment on their answer (the NLP worker reads it next)."""
    text = comment.strip()
    if not text or len(text) > MAX_COMMENT or "\x00" in text:
        raise InvalidInput(f"write a comment of 1 to {MAX_COMMENT:,} characters")
    feedback = session.get(Feedback, followup.feedback_id) if followup.feedback_id else None
    if feedback is None:
        raise NotFound("answer the question before adding a comment")
    feedback.text = text
    feedback.nlp_state, feedback.nlp_attempts = NlpState.pending.value, 0
    session.add(feedback)
    announce(session, FEEDBACK_PENDING)
    case = session.get(Case, followup.case_id)
    assert case is not None
    record(session, case, EventKind.followup_answered, "customer", after={"comment": True},
           body=text)  # fmt: skip
    return feedback


def followup_score(session: Session, followup: Followup) -> int | None:
    """The customer's current answer, if any."""
    feedback = session.get(Feedback, followup.feedback_id) if followup.feedback_id else None
    return feedback.score if feedback else None


def _answer_feedback(
    session: Session, followup: Followup, case: Case, kind: FollowupKind, score: int
) -> Feedback:
    """The answer's feedback item, created on the first click (through ingest: rollups count it)."""
    if followup.feedback_id is not None:
        existing = session.get(Feedback, followup.feedback_id)
        if existing is not None:
            return existing
    asked = session.get(Feedback, case.feedback_id)
    customer = session.get(Customer, asked.customer_id) if asked and asked.customer_id else None
    item = FeedbackIn(
        source=SOURCE_NAME, external_id=f"case-{case.id}", channel="survey",
        score_type=kind.value, score=score,
        customer=CustomerIn(ref=customer.external_ref) if customer else None,
        metadata={"case_id": case.id, "followup": True},
    )  # fmt: skip
    [result] = store_items(session, items=[PreparedItem.of(0, item)], source_kind=SOURCE_KIND)
    feedback = session.get(Feedback, result.id)
    assert feedback is not None
    return feedback
