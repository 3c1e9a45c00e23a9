"""JSON API for routing rules: list, create, change, reorder, delete, try one first, and apply
one to past feedback."""

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response, status

from hub.auth.models import Scope
from hub.http.deps import Principal, ReadKey, SessionDep, SettingsDep, require_access
from hub.http.params import MAX_ID, BodyId, PathId
from hub.routing.models import ApplyIn, ApplyResult, RuleDraft, RuleIn, RulePublic, RuleTrial
from hub.routing.service import (
    apply_rule,
    create_rule,
    delete_rule,
    list_rules,
    reorder_rules,
    try_rule,
    update_rule,
)
from hub.users.models import Role

router = APIRouter(prefix="/api/v1/routing/rules", tags=["routing"])
# Changing rules: a key with the admin scope, or a signed-in lead.
LeadKey = Annotated[Principal, Depends(require_access(Scope.admin, Role.lead))]


@router.get("", summary="List routing rules")
def rules(session: SessionDep, _who: ReadKey) -> list[RulePublic]:
    """Every rule, in the order they are tried (the first match wins)."""
    return list_rules(session)


@router.post("", summary="Add a routing rule", status_code=status.HTTP_201_CREATED)
def add_rule(data: RuleIn, session: SessionDep, _who: LeadKey) -> RulePublic:
    """A new rule, tried after the existing ones."""
    return create_rule(session, data=data)


@router.post("/try", summary="Try a rule on recent feedback")
def try_a_rule(
    data: RuleDraft,
    session: SessionDep,
    _who: LeadKey,
    days: Annotated[int, Query(ge=1, le=365)] = 30,
    rule_id: Annotated[
        int | None, Query(ge=1, le=MAX_ID, description="the stored rule this is a change of")
    ] = None,
) -> RuleTrial:
    """How much of the last days' feedback a rule would take, with examples and reasons; no
    destination needed. Each example says which earlier enabled rule takes it (a new rule comes
    after all of them), and `never_matches` says why a condition cannot match."""
    return try_rule(session, data=data, days=days, rule_id=rule_id)


@router.post("/{rule_id}/apply", summary="Apply a rule to past feedback")
def apply(
    rule_id: PathId, data: ApplyIn, session: SessionDep, settings: SettingsDep, _who: LeadKey
) -> ApplyResult:
    """Open the rule's cases for matching items the customers wrote in the last `days`, in item
    order. Items with a case are skipped; items an earlier enabled rule takes are left to it."""
    return apply_rule(session, settings=settings, rule_id=rule_id, days=data.days)


@router.put("/order", summary="Reorder routing rules")
def reorder(rule_ids: list[BodyId], session: SessionDep, _who: LeadKey) -> list[RulePublic]:
    """Give every rule's id once, in the order they should be tried."""
    return reorder_rules(session, rule_ids=rule_ids)


@router.put("/{rule_id}", summary="Change a routing rule")
def change_rule(rule_id: PathId, data: RuleIn, session: SessionDep, _who: LeadKey) -> RulePublic:
    """Replace a rule's conditions and outcome."""
    return update_rule(session, rule_id=rule_id, data=data)


@router.delete("/{rule_id}", summary="Delete a routing rule", status_code=204)
def remove_rule(rule_id: PathId, session: SessionDep, _who: LeadKey) -> Response:
    """Remove a rule; the cases it opened keep their history."""
    delete_rule(session, rule_id=rule_id)
    return Response(status_code=204)
