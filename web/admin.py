"""Admin pages: routing rules (list, create, edit, reorder, try), teams and users.

Leads manage routing rules and read the teams; admins do everything. Forms post with the
session's CSRF token and redirect (303) on success; a refused form comes back with the person's
input and the reasons next to the fields.
"""

from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, ValidationError
from sqlmodel import Session

from collectors.registry import registered
from hub.auth.sessions import sign_out_everywhere
from hub.errors import HubError, NotFound
from hub.feedback.models import SCORE_RANGES, Channel, ScoreType
from hub.http.deps import SessionDep
from hub.routing.models import (
    Conditions,
    Priority,
    RoutingRule,
    RuleIn,
    RulePublic,
    RuleTrial,
    ScoreRange,
    Strategy,
)
from hub.routing.service import (
    create_rule,
    delete_rule,
    list_rules,
    reorder_rules,
    rule_public,
    try_rule,
    update_rule,
)
from hub.sources.service import list_sources
from hub.topics.service import list_topics
from hub.users.models import Role, TeamCreate, User, UserCreate, UserPublic, UserUpdate
from hub.users.service import (
    create_team,
    create_user,
    get_user,
    list_teams,
    list_users,
    set_members,
    update_user,
)
from web.auth import check_csrf, page_user
from web.templating import templates

# Every admin page needs a signed-in person; each route below names the role it needs.
router = APIRouter(prefix="/admin", include_in_schema=False, dependencies=[Depends(page_user())])
Lead = Annotated[User, Depends(page_user(Role.lead))]
Admin = Annotated[User, Depends(page_user(Role.admin))]
Csrf = Annotated[str, Form()]
N = TypeVar("N", int, float)

SENTIMENTS = ["negative", "neutral", "positive"]
SCORE_LABELS = {ScoreType.nps: "NPS", ScoreType.csat: "CSAT", ScoreType.ces: "CES",
                ScoreType.stars: "stars", ScoreType.thumbs: "thumbs"}  # fmt: skip
# Kinds of sources that are not collectors: the API, imports, webhooks and survey widgets.
SENT_KINDS = {"api", "import", "webhook", "widget"}
STRATEGY_WORDS = {
    Strategy.none: "waits in the team's queue",
    Strategy.round_robin: "round robin in the team",
    Strategy.least_loaded: "least loaded team member",
}
DONE = {
    "created": "Rule created.",
    "saved": "Rule saved.",
    "deleted": "Rule deleted.",
    "moved": "Order changed.",
    "team": "Team created.",
    "members": "Members saved.",
    "user": "User created.",
    "role": "Role changed.",
    "active": "User reactivated.",
    "inactive": "User deactivated and signed out everywhere.",
}


def _redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def _page(request: Request, name: str, context: dict[str, Any], status: int = 200) -> HTMLResponse:
    done = DONE.get(request.query_params.get("done", ""))
    return templates.TemplateResponse(request, name, {"done": done, **context}, status_code=status)


# ---- routing rules ------------------------------------------------------------------------


class RuleForm(BaseModel):
    """The rule form's fields as typed: kept as given, so a refused form shows them again."""

    csrf_token: str = ""
    intent: str = "save"  # or "try": show what the rule would take, save nothing
    name: str = ""
    enabled: bool = False
    sentiments: list[str] = []
    score_types: list[str] = []
    nps_min: str = ""
    nps_max: str = ""
    csat_min: str = ""
    csat_max: str = ""
    ces_min: str = ""
    ces_max: str = ""
    stars_min: str = ""
    stars_max: str = ""
    thumbs_min: str = ""
    thumbs_max: str = ""
    topics: list[str] = []
    source_kinds: list[str] = []
    sources: list[str] = []
    channels: list[str] = []
    languages: list[str] = []
    segments: str = ""  # comma-separated
    attributes: str = ""  # one per line: name = value, value
    keywords: str = ""  # one word or phrase per line
    team_id: str = ""
    assignee_id: str = ""
    strategy: str = Strategy.none.value
    priority: str = Priority.normal.value
    sla_hours: str = ""  # an emptied field is refused, not silently the default

    def bound(self, score_type: str, end: str) -> str:
        """The typed min or max of one score type."""
        return str(getattr(self, f"{score_type}_{end}", "")).strip()


RuleFormDep = Annotated[RuleForm, Form()]


@router.get("", include_in_schema=False)
def admin_home(_user: Lead) -> RedirectResponse:
    """The admin section starts at the routing rules."""
    return _redirect("/admin/rules")


@router.get("/rules", response_class=HTMLResponse)
def rules_page(request: Request, session: SessionDep, _user: Lead) -> HTMLResponse:
    """Every rule in the order they are tried, its conditions in words and where it sends."""
    names = _names(session)
    rules = [
        {"rule": rule, "when": describe(rule.conditions, names["topics"]),
         "to": target(rule, names["teams"], names["users"])}
        for rule in list_rules(session)
    ]  # fmt: skip
    return _page(request, "admin_rules.html", {"rules": rules})


@router.get("/rules/new", response_class=HTMLResponse)
def new_rule_page(request: Request, session: SessionDep, _user: Lead) -> HTMLResponse:
    """A blank rule form."""
    blank = RuleForm(enabled=True, sla_hours="48")
    return _rule_form(request, session, blank, rule_id=None)


@router.post("/rules/new", response_class=HTMLResponse)
def new_rule(request: Request, session: SessionDep, _user: Lead, form: RuleFormDep) -> Response:
    """Create the rule, or (intent "try") show what it would take without saving it."""
    check_csrf(request, form.csrf_token)
    return _save_or_try(request, session, form, rule_id=None)


@router.get("/rules/{rule_id}", response_class=HTMLResponse)
def edit_rule_page(
    request: Request, session: SessionDep, _user: Lead, rule_id: int
) -> HTMLResponse:
    """The form of a stored rule."""
    return _rule_form(request, session, form_of(_stored_rule(session, rule_id)), rule_id=rule_id)


@router.post("/rules/{rule_id}", response_class=HTMLResponse)
def edit_rule(
    request: Request, session: SessionDep, _user: Lead, rule_id: int, form: RuleFormDep
) -> Response:
    """Save the changed rule, or (intent "try") show what it would take."""
    check_csrf(request, form.csrf_token)
    _stored_rule(session, rule_id)
    return _save_or_try(request, session, form, rule_id=rule_id)


@router.post("/rules/{rule_id}/move")
def move_rule(
    request: Request,
    session: SessionDep,
    _user: Lead,
    rule_id: int,
    csrf_token: Csrf = "",
    direction: Annotated[str, Form()] = "up",
) -> RedirectResponse:
    """Swap a rule with the one before (up) or after (down) it."""
    check_csrf(request, csrf_token)
    ids = [rule.id for rule in list_rules(session)]
    if rule_id not in ids:
        raise NotFound(f"no routing rule with id {rule_id}")
    here = ids.index(rule_id)
    there = here - 1 if direction == "up" else here + 1
    if 0 <= there < len(ids):
        ids[here], ids[there] = ids[there], ids[here]
        reorder_rules(session, rule_ids=ids)
    return _redirect(f"/admin/rules?done=moved#rule-{rule_id}")


@router.get("/rules/{rule_id}/delete", response_class=HTMLResponse)
def delete_rule_page(
    request: Request, session: SessionDep, _user: Lead, rule_id: int
) -> HTMLResponse:
    """Ask before deleting a rule."""
    rule = _stored_rule(session, rule_id)
    names = _names(session)
    context = {"rule": rule, "when": describe(rule.conditions, names["topics"]),
               "to": target(rule, names["teams"], names["users"])}  # fmt: skip
    return _page(request, "admin_rule_delete.html", context)


@router.post("/rules/{rule_id}/delete")
def remove_rule(
    request: Request, session: SessionDep, _user: Lead, rule_id: int, csrf_token: Csrf = ""
) -> RedirectResponse:
    """Delete a rule; the cases it opened keep their history."""
    check_csrf(request, csrf_token)
    delete_rule(session, rule_id=rule_id)
    return _redirect("/admin/rules?done=deleted")


def _save_or_try(
    request: Request, session: SessionDep, form: RuleForm, *, rule_id: int | None
) -> Response:
    data, errors = rule_in(form)
    trial: RuleTrial | None = None
    if data is not None and form.intent == "try":
        trial = try_rule(session, data=data)
    elif data is not None:
        try:
            if rule_id is None:
                rule_id = create_rule(session, data=data).id
                return _redirect(f"/admin/rules?done=created#rule-{rule_id}")
            update_rule(session, rule_id=rule_id, data=data)
            return _redirect(f"/admin/rules?done=saved#rule-{rule_id}")
        except HubError as exc:
            session.rollback()
            errors["owner"] = exc.message
    status = 422 if errors else 200
    return _rule_form(request, session, form, rule_id=rule_id, errors=errors, trial=trial,
                      status=status)  # fmt: skip


def _rule_form(
    request: Request,
    session: Session,
    form: RuleForm,
    *,
    rule_id: int | None,
    errors: dict[str, str] | None = None,
    trial: RuleTrial | None = None,
    status: int = 200,
) -> HTMLResponse:
    context = {
        "form": form,
        "rule_id": rule_id,
        "action": f"/admin/rules/{rule_id}" if rule_id else "/admin/rules/new",
        "errors": errors or {},
        "labels": FIELD_LABELS,
        "trial": trial,
        **_rule_options(session, request, form),
    }
    return _page(request, "admin_rule_form.html", context, status)


def _rule_options(session: Session, request: Request, form: RuleForm) -> dict[str, Any]:
    """(value, label) pairs for every choice on the form, keeping values it already holds."""
    sources = list_sources(session)
    kinds = sorted(set(registered()) | SENT_KINDS | {source.kind for source in sources})
    codes = request.app.state.settings.language_codes
    owners = [user for user in list_users(session)
              if user.active or str(user.id) == form.assignee_id]  # fmt: skip
    return {
        "sentiment_options": _options([(s, s) for s in SENTIMENTS], form.sentiments),
        "topic_options": _options([(t.key, t.name) for t in list_topics(session)], form.topics),
        "kind_options": _options([(k, k.replace("_", " ")) for k in kinds], form.source_kinds),
        "source_options": _options([(s.name, s.name) for s in sources], form.sources),
        "channel_options": _options([(c.value, c.value) for c in Channel], form.channels),
        "language_options": _options([(c, c) for c in codes], form.languages),
        "score_rows": [(kind.value, SCORE_LABELS[kind], *SCORE_RANGES[kind]) for kind in ScoreType],
        "team_options": [(str(t.id), t.name) for t in list_teams(session)],
        "user_options": [(str(u.id), f"{u.name} ({u.email})") for u in owners],
        "strategy_options": [(s.value, STRATEGY_WORDS[s]) for s in Strategy],
        "priority_options": [(p.value, p.value) for p in Priority],
    }


def _options(known: list[tuple[str, str]], chosen: list[str]) -> list[tuple[str, str]]:
    values = {value for value, _label in known}
    return known + [(value, value) for value in chosen if value not in values]


FIELD_LABELS = {
    "name": "Name",
    "sentiments": "Sentiment",
    "scores": "Scores",
    "topics": "Topics",
    "source_kinds": "Source kinds",
    "sources": "Sources",
    "channels": "Channels",
    "languages": "Languages",
    "segments": "Customer segments",
    "attributes": "Customer attributes",
    "keywords": "Keywords",
    "owner": "Goes to",
    "strategy": "Strategy",
    "priority": "Priority",
    "sla_hours": "SLA hours",
}


HOURS = "give a number of hours"
SLA_RANGE = "give more than 0 and at most 2160 hours (90 days)"


def rule_in(form: RuleForm) -> tuple[RuleIn | None, dict[str, str]]:
    """The rule a form describes, or None and what is wrong, by form field."""
    errors: dict[str, str] = {}
    conditions: dict[str, Any] = {
        "sentiments": form.sentiments, "scores": _score_ranges(form, errors),
        "topics": form.topics, "source_kinds": form.source_kinds, "sources": form.sources,
        "channels": form.channels, "languages": form.languages,
        "segments": _split(form.segments, ","), "attributes": _attributes(form, errors),
        "keywords": _split(form.keywords, "\n"),
    }  # fmt: skip
    data: dict[str, Any] = {
        "name": form.name.strip(),
        "enabled": form.enabled,
        "conditions": conditions,
        "team_id": _number(form.team_id, int, "owner", "choose a team from the list", errors),
        "assignee_id": _number(form.assignee_id, int, "owner", "choose a person", errors),
        "strategy": form.strategy,
        "priority": form.priority,
        "sla_hours": _number(form.sla_hours, float, "sla_hours", HOURS, errors),
    }
    try:
        rule = RuleIn.model_validate({k: v for k, v in data.items() if v is not None})
    except ValidationError as exc:
        for error in exc.errors():
            field = _field(error["loc"])
            message = error["msg"].removeprefix("Value error, ")
            errors.setdefault(field, SLA_RANGE if field == "sla_hours" else message)
        return None, errors
    if data["sla_hours"] is None and "sla_hours" not in errors:
        errors["sla_hours"] = HOURS
    return (None, errors) if errors else (rule, errors)


def _field(loc: tuple[int | str, ...]) -> str:
    """The form field a validation error belongs to ("owner" for the rule as a whole)."""
    if not loc:
        return "owner"
    if loc[0] == "conditions":
        return str(loc[1]) if len(loc) > 1 else "owner"
    return "owner" if loc[0] in ("team_id", "assignee_id") else str(loc[0])


def _score_ranges(form: RuleForm, errors: dict[str, str]) -> list[dict[str, Any]]:
    ranges = []
    for kind in ScoreType:
        low, high = form.bound(kind.value, "min"), form.bound(kind.value, "max")
        if kind.value not in form.score_types and not low and not high:
            continue
        message = f"{SCORE_LABELS[kind]} bounds are whole numbers"
        ranges.append({
            "score_type": kind.value,
            "min": _number(low, int, "scores", message, errors),
            "max": _number(high, int, "scores", message, errors),
        })  # fmt: skip
    return ranges


def _attributes(form: RuleForm, errors: dict[str, str]) -> dict[str, list[str]]:
    attributes: dict[str, list[str]] = {}
    for line in _split(form.attributes, "\n"):
        name, sep, values = line.partition("=")
        if not sep or not name.strip() or not _split(values, ","):
            errors["attributes"] = f"write each as: name = value, value (not {line!r})"
            continue
        attributes.setdefault(name.strip(), []).extend(_split(values, ","))
    return attributes


def _split(text: str, separator: str) -> list[str]:
    return list(dict.fromkeys(part.strip() for part in text.split(separator) if part.strip()))


def _number(
    text: str, kind: Callable[[str], N], field: str, message: str, errors: dict[str, str]
) -> N | None:
    """A typed number, None when left empty; a bad one is noted in ``errors``."""
    if not text.strip():
        return None
    try:
        return kind(text.strip())
    except ValueError:
        errors.setdefault(field, message)
        return None


def form_of(rule: RulePublic) -> RuleForm:
    """The form of a stored rule."""
    c = rule.conditions
    bounds = {
        f"{score.score_type.value}_{end}": "" if value is None else str(value)
        for score in c.scores
        for end, value in (("min", score.min), ("max", score.max))
    }
    return RuleForm(
        name=rule.name, enabled=rule.enabled, sentiments=c.sentiments,
        score_types=[score.score_type.value for score in c.scores], topics=c.topics,
        source_kinds=c.source_kinds, sources=c.sources,
        channels=[channel.value for channel in c.channels], languages=c.languages,
        segments=", ".join(c.segments),
        attributes="\n".join(f"{name} = {', '.join(values)}"
                             for name, values in c.attributes.items()),
        keywords="\n".join(c.keywords),
        team_id=str(rule.team_id or ""), assignee_id=str(rule.assignee_id or ""),
        strategy=rule.strategy.value, priority=rule.priority.value,
        sla_hours=f"{rule.sla_hours:g}", **bounds,
    )  # fmt: skip


def describe(conditions: Conditions, topic_names: dict[str, str]) -> list[str]:
    """A rule's conditions in words, one line each ("all feedback" when it has none)."""
    c = conditions
    words = [
        ("sentiment is", c.sentiments),
        ("score is", [_score_words(score) for score in c.scores]),
        ("topic is", [topic_names.get(key, key) for key in c.topics]),
        ("source kind is", [kind.replace("_", " ") for kind in c.source_kinds]),
        ("source is", c.sources),
        ("channel is", [channel.value for channel in c.channels]),
        ("language is", c.languages),
        ("customer segment is", c.segments),
        *[(f"customer {name} is", values) for name, values in c.attributes.items()],
        ("mentions", [f"“{keyword}”" for keyword in c.keywords]),
    ]
    lines = [f"{label} {' or '.join(values)}" for label, values in words if values]
    return lines or ["all feedback"]


def _score_words(score: ScoreRange) -> str:
    kind = SCORE_LABELS[score.score_type]
    if score.score_type == ScoreType.thumbs and (score.max == 0 or score.min == 1):
        return "thumbs down" if score.max == 0 else "thumbs up"
    if score.min is not None and score.max is not None:
        return f"{kind} {score.min}-{score.max}"
    if score.max is not None:
        return f"{kind} ≤ {score.max}"
    if score.min is not None:
        return f"{kind} ≥ {score.min}"
    return f"any {kind}"


def target(rule: RulePublic, teams: dict[int, str], users: dict[int, str]) -> str:
    """Where a rule sends what it takes, in words."""
    team = teams.get(rule.team_id) if rule.team_id is not None else None
    person = users.get(rule.assignee_id) if rule.assignee_id is not None else None
    if team and person:
        return f"{person} in team {team}"
    if person:
        return person
    if team:
        return f"team {team}, {STRATEGY_WORDS[rule.strategy]}"
    return "nobody: its team or person was removed"


def _names(session: Session) -> dict[str, dict[Any, str]]:
    return {
        "teams": {team.id: team.name for team in list_teams(session)},
        "users": {user.id: user.name for user in list_users(session)},
        "topics": {topic.key: topic.name for topic in list_topics(session)},
    }


def _stored_rule(session: Session, rule_id: int) -> RulePublic:
    rule = session.get(RoutingRule, rule_id)
    if rule is None:
        raise NotFound(f"no routing rule with id {rule_id}")
    return rule_public(rule)


# ---- teams --------------------------------------------------------------------------------


@router.get("/teams", response_class=HTMLResponse)
def teams_page(request: Request, session: SessionDep, user: Lead) -> HTMLResponse:
    """Every team with its members; admins create teams and set members, leads read."""
    return _teams(request, session, user)


@router.post("/teams", response_class=HTMLResponse)
def add_team(
    request: Request,
    session: SessionDep,
    user: Admin,
    csrf_token: Csrf = "",
    name: Annotated[str, Form()] = "",
    description: Annotated[str, Form()] = "",
) -> Response:
    """Create an empty team."""
    check_csrf(request, csrf_token)
    try:
        create_team(session, data=TeamCreate(name=name.strip(), description=description))
    except (ValidationError, HubError) as exc:
        session.rollback()
        new = {"name": name, "description": description, "error": _message(exc)}
        return _teams(request, session, user, new=new, status=_status(exc))
    return _redirect("/admin/teams?done=team")


@router.post("/teams/{team_id}/members")
def team_members(
    request: Request,
    session: SessionDep,
    _user: Admin,
    team_id: int,
    csrf_token: Csrf = "",
    user_ids: Annotated[list[int], Form()] = [],  # noqa: B006 (FastAPI copies defaults)
) -> RedirectResponse:
    """Make exactly the checked users the team's members."""
    check_csrf(request, csrf_token)
    set_members(session, team_id=team_id, user_ids=user_ids)
    return _redirect(f"/admin/teams?done=members#team-{team_id}")


def _teams(
    request: Request,
    session: Session,
    user: User,
    *,
    new: dict[str, str] | None = None,
    status: int = 200,
) -> HTMLResponse:
    users = list_users(session)
    context = {
        "teams": list_teams(session),
        "users": users,
        "by_id": {u.id: u for u in users},
        "can_edit": Role(user.role).allows(Role.admin),
        "new": new or {"name": "", "description": "", "error": ""},
    }
    return _page(request, "admin_teams.html", context, status)


# ---- users --------------------------------------------------------------------------------


@router.get("/users", response_class=HTMLResponse)
def users_page(request: Request, session: SessionDep, _user: Admin) -> HTMLResponse:
    """Every user with role, teams and whether they may sign in."""
    return _users(request, session)


@router.post("/users", response_class=HTMLResponse)
def add_user(
    request: Request,
    session: SessionDep,
    _user: Admin,
    csrf_token: Csrf = "",
    email: Annotated[str, Form()] = "",
    name: Annotated[str, Form()] = "",
    role: Annotated[str, Form()] = Role.agent.value,
    password: Annotated[str, Form()] = "",
) -> Response:
    """Create a user who can sign in with the given password."""
    check_csrf(request, csrf_token)
    try:
        data = UserCreate.model_validate(
            {"email": email.strip(), "name": name, "role": role, "password": password}
        )
        create_user(session, data=data)
    except (ValidationError, HubError) as exc:
        session.rollback()
        new = {"email": email, "name": name, "role": role, "error": _message(exc)}
        return _users(request, session, new=new, status=_status(exc))
    return _redirect("/admin/users?done=user")


@router.post("/users/{user_id}/role", response_class=HTMLResponse)
def change_role(
    request: Request,
    session: SessionDep,
    me: Admin,
    user_id: int,
    csrf_token: Csrf = "",
    role: Annotated[str, Form()] = "",
) -> Response:
    """Give a user another role (the hub always keeps an active admin)."""
    check_csrf(request, csrf_token)
    return _change(request, session, me, user_id, {"role": role}, done="role")


@router.post("/users/{user_id}/active", response_class=HTMLResponse)
def change_active(
    request: Request,
    session: SessionDep,
    me: Admin,
    user_id: int,
    csrf_token: Csrf = "",
    active: Annotated[bool, Form()] = False,
) -> Response:
    """Deactivate a user (signing them out everywhere) or let them sign in again."""
    check_csrf(request, csrf_token)
    done = "active" if active else "inactive"
    return _change(request, session, me, user_id, {"active": active}, done=done)


def _change(
    request: Request,
    session: Session,
    me: User,
    user_id: int,
    changes: dict[str, Any],
    *,
    done: str,
) -> Response:
    """Apply ``changes`` to a user, or show the users page with why not."""
    who = get_user(session, user_id=user_id)
    label = who.name or who.email
    try:
        update_user(session, user_id=user_id, changes=UserUpdate.model_validate(changes))
    except (ValidationError, HubError) as exc:
        session.rollback()
        error = f"Could not change {label}: {_message(exc)}"
        return _users(request, session, error=error, error_user=user_id, status=_status(exc))
    if changes.get("active") is False:
        sign_out_everywhere(session, user_id=user_id)
    if user_id == me.id and not Role(me.role).allows(Role.admin):
        return _redirect("/feedback")  # they demoted themselves: the page is no longer theirs
    return _redirect(f"/admin/users?done={done}#user-{user_id}")


def _users(
    request: Request,
    session: Session,
    *,
    new: dict[str, str] | None = None,
    error: str = "",
    error_user: int | None = None,
    status: int = 200,
) -> HTMLResponse:
    users: list[UserPublic] = list_users(session)
    context = {
        "users": users,
        "roles": [role.value for role in Role],
        "new": new or {"email": "", "name": "", "role": Role.agent.value, "error": ""},
        "error": error,
        "error_user": error_user,
    }
    return _page(request, "admin_users.html", context, status)


def _message(exc: ValidationError | HubError) -> str:
    if isinstance(exc, HubError):
        return exc.message
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc'])}: {e['msg'].removeprefix('Value error, ')}"
        if e["loc"] else e["msg"].removeprefix("Value error, ")
        for e in exc.errors()
    )  # fmt: skip


def _status(exc: ValidationError | HubError) -> int:
    return exc.status_code if isinstance(exc, HubError) else 422
