"""The routing rule pages: the list in order, new and edit (with "try" and "apply to the
past"), move, delete."""

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import Session

from collectors.registry import registered
from hub.errors import HubError, NotFound
from hub.feedback.models import Channel, ScoreType
from hub.http.deps import SessionDep
from hub.routing.models import (
    ApplyResult,
    Priority,
    RoutingRule,
    RuleDraft,
    RuleIn,
    RulePublic,
    RuleTrial,
    Strategy,
)
from hub.routing.service import (
    apply_rule,
    create_rule,
    delete_rule,
    list_rules,
    reorder_rules,
    rule_public,
    try_rule,
    update_rule,
)
from hub.scores import SCALES
from hub.sources.service import list_sources
from hub.topics.service import list_topics
from hub.users.service import list_teams, list_users
from web.admin.common import Csrf, Lead, redirect, render
from web.admin.rule_form import FIELD_LABELS, RuleForm, form_of, rule_in, trial_days
from web.admin.rule_words import SCORE_LABELS, STRATEGY_WORDS, describe, target
from web.auth import check_csrf

router = APIRouter()
RuleFormDep = Annotated[RuleForm, Form()]

SENTIMENTS = ["negative", "neutral", "positive"]
# Kinds of sources that are not collectors: the API, imports, webhooks and survey widgets.
SENT_KINDS = {"api", "import", "webhook", "widget"}


@router.get("/rules", response_class=HTMLResponse)
def rules_page(request: Request, session: SessionDep, _user: Lead) -> HTMLResponse:
    """Every rule in the order they are tried, its conditions in words and where it sends."""
    names = _names(session)
    rules = [
        {"rule": rule, "when": describe(rule.conditions, names["topics"]),
         "to": target(rule, names["teams"], names["users"])}
        for rule in list_rules(session)
    ]  # fmt: skip
    return render(request, "admin_rules.html", {"rules": rules})


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
    return redirect(f"/admin/rules?done=moved#rule-{rule_id}")


@router.post("/rules/{rule_id}/apply", response_class=HTMLResponse)
def apply_to_the_past(
    request: Request,
    session: SessionDep,
    _user: Lead,
    rule_id: int,
    csrf_token: Csrf = "",
    days: Annotated[str, Form()] = "",
) -> HTMLResponse:
    """Open the stored rule's cases for matching items of the last days; show what it opened."""
    check_csrf(request, csrf_token)
    form = form_of(_stored_rule(session, rule_id))
    form.days = days
    errors: dict[str, str] = {}
    chosen = trial_days(form, errors)
    applied: ApplyResult | None = None
    if not errors:
        try:
            applied = apply_rule(
                session, settings=request.app.state.settings, rule_id=rule_id, days=chosen
            )
        except HubError as exc:
            session.rollback()
            errors["owner"] = exc.message
    return _rule_form(request, session, form, rule_id=rule_id, errors=errors, applied=applied,
                      status=409 if "owner" in errors else 422 if errors else 200)  # fmt: skip


@router.get("/rules/{rule_id}/delete", response_class=HTMLResponse)
def delete_rule_page(
    request: Request, session: SessionDep, _user: Lead, rule_id: int
) -> HTMLResponse:
    """Ask before deleting a rule."""
    rule = _stored_rule(session, rule_id)
    names = _names(session)
    context = {"rule": rule, "when": describe(rule.conditions, names["topics"]),
               "to": target(rule, names["teams"], names["users"])}  # fmt: skip
    return render(request, "admin_rule_delete.html", context)


@router.post("/rules/{rule_id}/delete")
def remove_rule(
    request: Request, session: SessionDep, _user: Lead, rule_id: int, csrf_token: Csrf = ""
) -> RedirectResponse:
    """Delete a rule; the cases it opened keep their history."""
    check_csrf(request, csrf_token)
    delete_rule(session, rule_id=rule_id)
    return redirect("/admin/rules?done=deleted")


def _save_or_try(
    request: Request, session: SessionDep, form: RuleForm, *, rule_id: int | None
) -> Response:
    if form.intent == "try":
        return _try(request, session, form, rule_id=rule_id)
    data, errors = rule_in(form)
    if data is not None:
        try:
            if rule_id is None:
                rule_id = create_rule(session, data=RuleIn.model_validate(data)).id
                return redirect(f"/admin/rules?done=created#rule-{rule_id}")
            update_rule(session, rule_id=rule_id, data=RuleIn.model_validate(data))
            return redirect(f"/admin/rules?done=saved#rule-{rule_id}")
        except HubError as exc:
            session.rollback()
            errors["owner"] = exc.message
    return _rule_form(request, session, form, rule_id=rule_id, errors=errors, status=422)


def _try(
    request: Request, session: SessionDep, form: RuleForm, *, rule_id: int | None
) -> HTMLResponse:
    """What the form's rule would take (no destination needed); Apply when it is the saved one."""
    data, errors = rule_in(form, RuleDraft)
    days = trial_days(form, errors)
    if data is None or errors:
        return _rule_form(request, session, form, rule_id=rule_id, errors=errors, status=422)
    trial = try_rule(session, data=data, days=days, rule_id=rule_id)
    saved = rule_id is not None and _draft(_stored_rule(session, rule_id)) == data
    return _rule_form(request, session, form, rule_id=rule_id, trial=trial, saved=saved)


def _draft(rule: RulePublic) -> RuleDraft:
    return RuleDraft.model_validate(rule.model_dump(include=set(RuleDraft.model_fields)))


def _rule_form(
    request: Request,
    session: Session,
    form: RuleForm,
    *,
    rule_id: int | None,
    errors: dict[str, str] | None = None,
    trial: RuleTrial | None = None,
    saved: bool = False,
    applied: ApplyResult | None = None,
    status: int = 200,
) -> HTMLResponse:
    context = {
        "saved": saved,
        "applied": applied,
        "form": form,
        "rule_id": rule_id,
        "action": f"/admin/rules/{rule_id}" if rule_id else "/admin/rules/new",
        "errors": errors or {},
        "labels": FIELD_LABELS,
        "trial": trial,
        **_rule_options(session, request, form),
    }
    return render(request, "admin_rule_form.html", context, status)


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
        "score_rows": [
            (kind.value, SCORE_LABELS[kind], *SCALES[kind].bounds) for kind in ScoreType
        ],
        "team_options": [(str(t.id), t.name) for t in list_teams(session)],
        "user_options": [(str(u.id), f"{u.name} ({u.email})") for u in owners],
        "strategy_options": [(s.value, STRATEGY_WORDS[s]) for s in Strategy],
        "priority_options": [(p.value, p.value) for p in Priority],
        "raise_options": [(p.value, f"to {p.value}") for p in Priority if p != Priority.low],
    }


def _options(known: list[tuple[str, str]], chosen: list[str]) -> list[tuple[str, str]]:
    values = {value for value, _label in known}
    return known + [(value, value) for value in chosen if value not in values]


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
