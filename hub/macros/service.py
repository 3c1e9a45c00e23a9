"""Reply templates: create, change, delete, fill in for a case, and the ones seeded first."""

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from hub.cases.models import Case
from hub.customers.models import Customer
from hub.errors import Conflict, NotFound
from hub.feedback.models import Feedback
from hub.macros.defaults import DEFAULT_MACROS, FALLBACKS
from hub.macros.models import MacroIn, MacroPublic, RenderedMacro, ReplyTemplate
from hub.store.types import utcnow
from hub.users.models import Team, User


def list_macros(session: Session, *, language: str | None = None) -> list[MacroPublic]:
    """Every template (of one language, if given), by name then language."""
    query = select(ReplyTemplate).order_by(col(ReplyTemplate.name), col(ReplyTemplate.language))
    if language:
        query = query.where(ReplyTemplate.language == language)
    return [_public(template) for template in session.exec(query).all()]


def get_macro(session: Session, *, macro_id: int) -> ReplyTemplate:
    """The template with this id."""
    template = session.get(ReplyTemplate, macro_id)
    if template is None:
        raise NotFound(f"no reply template with id {macro_id}")
    return template


def create_macro(session: Session, *, data: MacroIn) -> MacroPublic:
    """A new template; its name is unique per language."""
    template = ReplyTemplate(**data.model_dump())
    _save(session, template)
    return _public(template)


def update_macro(session: Session, *, macro_id: int, data: MacroIn) -> MacroPublic:
    """Replace a template's name, language, subject and body."""
    template = get_macro(session, macro_id=macro_id)
    for field, value in data.model_dump().items():
        setattr(template, field, value)
    template.updated_at = utcnow()
    _save(session, template)
    return _public(template)


def delete_macro(session: Session, *, macro_id: int) -> None:
    """Remove a template (replies already sent keep their text)."""
    session.delete(get_macro(session, macro_id=macro_id))
    session.flush()


def _save(session: Session, template: ReplyTemplate) -> None:
    with session.no_autoflush:  # the changed template is not written before the check
        taken = session.exec(
            select(ReplyTemplate.id).where(
                ReplyTemplate.name == template.name, ReplyTemplate.language == template.language
            )
        ).first()
    if taken is not None and taken != template.id:
        raise Conflict(
            f"a template named {template.name!r} in {template.language} exists already",
            details={"id": taken},
        )
    session.add(template)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:  # the same name saved at the same moment by someone else
        raise Conflict(f"a template named {template.name!r} exists already") from None


def render_macro(
    session: Session, *, macro_id: int, case_id: int, agent: User | None
) -> RenderedMacro:
    """The template filled in for a case; what is not known reads as a polite fallback."""
    template = get_macro(session, macro_id=macro_id)
    case = session.get(Case, case_id)
    if case is None:
        raise NotFound(f"no case with id {case_id}")
    values = placeholder_values(session, case=case, agent=agent, language=template.language)
    return RenderedMacro(
        macro_id=macro_id,
        case_id=case_id,
        language=template.language,
        subject=fill(template.subject, values),
        body=fill(template.body, values),
    )


def placeholder_values(
    session: Session, *, case: Case, agent: User | None, language: str
) -> dict[str, str]:
    """What each placeholder stands for in this case, in the template's language."""
    fallback = FALLBACKS.get(language, FALLBACKS["en"])
    feedback = session.get(Feedback, case.feedback_id)
    customer = (
        session.get(Customer, feedback.customer_id) if feedback and feedback.customer_id else None
    )
    team = session.get(Team, case.team_id) if case.team_id else None
    known = {
        "customer_name": (customer.name or "").strip() if customer else "",
        "agent_name": (agent.name or "").strip() if agent else "",
        "team": team.name if team else "",
    }
    return {
        "case_id": str(case.id),
        **{key: value or fallback[key] for key, value in known.items()},
    }


def fill(text: str, values: dict[str, str]) -> str:
    """``text`` with its placeholders replaced; one that cannot be filled stays as written."""
    try:
        return text.format_map(values)
    except (KeyError, ValueError, IndexError, AttributeError):  # saved before the check
        return text


def ensure_default_macros(session: Session) -> None:
    """On first start (no template yet): apology-and-offer, looking-into-it and fixed-please-
    confirm replies in English, Spanish and Portuguese."""
    if session.exec(select(ReplyTemplate.id)).first() is not None:
        return
    for name, language, subject, body in DEFAULT_MACROS:
        session.add(ReplyTemplate(name=name, language=language, subject=subject, body=body))
    session.flush()


def _public(template: ReplyTemplate) -> MacroPublic:
    assert template.id is not None
    return MacroPublic.model_validate(template, from_attributes=True)
