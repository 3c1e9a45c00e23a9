"""JSON API for reply templates: agents read them and fill them in; leads and admins change them."""

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response, status

from hub.auth.models import Scope
from hub.http.deps import Principal, SessionDep, require_access
from hub.http.params import MAX_ID, PathId
from hub.macros.models import LANGUAGE_PATTERN, MacroIn, MacroPublic, RenderedMacro
from hub.macros.service import (
    create_macro,
    delete_macro,
    get_macro,
    list_macros,
    render_macro,
    update_macro,
)
from hub.users.models import Role

router = APIRouter(prefix="/api/v1/macros", tags=["macros"])
# Reading: a key with the read scope, or a signed-in agent; changing: admin scope, or a lead.
AgentKey = Annotated[Principal, Depends(require_access(Scope.read, Role.agent))]
LeadKey = Annotated[Principal, Depends(require_access(Scope.admin, Role.lead))]


@router.get("", summary="List reply templates")
def macros(
    session: SessionDep,
    _who: AgentKey,
    language: Annotated[str | None, Query(pattern=LANGUAGE_PATTERN)] = None,
) -> list[MacroPublic]:
    """Every reply template (of one language, if given), by name."""
    return list_macros(session, language=language)


@router.post("", summary="Add a reply template", status_code=status.HTTP_201_CREATED)
def add_macro(data: MacroIn, session: SessionDep, _who: LeadKey) -> MacroPublic:
    """A new template; its name is unique per language. Placeholders other than
    {customer_name}, {case_id}, {agent_name} and {team} are refused (422)."""
    return create_macro(session, data=data)


@router.get("/{macro_id}", summary="Get a reply template")
def one_macro(macro_id: PathId, session: SessionDep, _who: AgentKey) -> MacroPublic:
    """One template."""
    return MacroPublic.model_validate(get_macro(session, macro_id=macro_id), from_attributes=True)


@router.put("/{macro_id}", summary="Change a reply template")
def change_macro(
    macro_id: PathId, data: MacroIn, session: SessionDep, _who: LeadKey
) -> MacroPublic:
    """Replace a template's name, language, subject and body."""
    return update_macro(session, macro_id=macro_id, data=data)


@router.delete("/{macro_id}", summary="Delete a reply template", status_code=204)
def remove_macro(macro_id: PathId, session: SessionDep, _who: LeadKey) -> Response:
    """Remove a template."""
    delete_macro(session, macro_id=macro_id)
    return Response(status_code=204)


@router.get("/{macro_id}/render", summary="Fill in a reply template for a case")
def render(
    macro_id: PathId,
    session: SessionDep,
    who: AgentKey,
    case_id: Annotated[int, Query(ge=1, le=MAX_ID)],
) -> RenderedMacro:
    """The template's subject and body with the case's customer name, case id, team and the
    caller's name filled in; what the case does not know reads as a polite fallback in the
    template's language ("Hi there")."""
    return render_macro(session, macro_id=macro_id, case_id=case_id, agent=who.user)
