"""One action on many cases: each case is checked on its own, and refused ones are counted.

A bulk action never fails as a whole for one case: a case the person may not work, or whose
status does not allow the move, is refused with a reason and the others go ahead. Each change
is an ordinary service call, so each writes its own CaseEvent.
"""

from enum import StrEnum
from typing import Annotated, Self

from pydantic import BaseModel, Field, model_validator
from sqlmodel import Session

from hub.cases.models import TRANSITIONS, Case, Status
from hub.cases.service import may_work, set_priority, transition
from hub.config import Settings
from hub.http.params import BodyId
from hub.routing.models import Priority
from hub.users.models import User

MAX_BULK = 200


class BulkAction(StrEnum):
    status = "status"
    priority = "priority"
    close = "close"


class Refusal(StrEnum):
    not_found = "not_found"
    not_yours = "not_yours"
    not_allowed = "not_allowed"  # the case's status does not allow the move


class BulkIn(BaseModel):
    """The same change to many cases: a status, a priority, or closing with a resolution."""

    case_ids: Annotated[list[BodyId], Field(min_length=1, max_length=MAX_BULK)]
    action: BulkAction
    status: Status | None = Field(default=None, description="for `status`")
    priority: Priority | None = Field(default=None, description="for `priority`")
    resolution: str | None = Field(
        default=None, min_length=1, max_length=5000, description="for `close` (required)"
    )

    @model_validator(mode="after")
    def _has_what_the_action_needs(self) -> Self:
        needed = {"status": self.status, "priority": self.priority, "close": self.resolution}
        if needed[self.action.value] is None:
            field = "resolution" if self.action == BulkAction.close else self.action.value
            raise ValueError(f"{self.action.value} needs `{field}`")
        if self.action == BulkAction.status and self.status == Status.closed:
            raise ValueError("closing needs the `close` action, with a resolution")
        return self


class BulkRefused(BaseModel):
    """A case left as it was, and why."""

    case_id: int
    reason: Refusal
    message: str


class BulkResult(BaseModel):
    """What a bulk action did: the cases changed, unchanged (already so) and refused."""

    changed: list[int]
    unchanged: list[int]
    refused: list[BulkRefused]


def apply_bulk(
    session: Session, *, settings: Settings, data: BulkIn, user: User | None, actor: str
) -> BulkResult:
    """Apply ``data`` to each of its cases that ``user`` may work (a key: every case)."""
    result = BulkResult(changed=[], unchanged=[], refused=[])
    for case_id in dict.fromkeys(data.case_ids):
        case = session.get(Case, case_id)
        refusal = _refusal(session, data, user, case)
        if refusal is not None:
            result.refused.append(BulkRefused(case_id=case_id, reason=refusal[0],
                                              message=refusal[1]))  # fmt: skip
            continue
        assert case is not None
        if _apply(session, settings, data, case, actor):
            result.changed.append(case_id)
        else:
            result.unchanged.append(case_id)
    return result


def _refusal(
    session: Session, data: BulkIn, user: User | None, case: Case | None
) -> tuple[Refusal, str] | None:
    if case is None:
        return Refusal.not_found, "no such case"
    if user is not None and not may_work(session, user, case):
        return Refusal.not_yours, "not assigned to you or to one of your teams"
    target = _target(data)
    current = Status(case.status)
    if target is None or target == current:
        return None
    if target not in TRANSITIONS[current]:
        return Refusal.not_allowed, f"a {current.value} case cannot move to {target.value}"
    if target == Status.assigned and case.assignee_id is None:
        return Refusal.not_allowed, "nobody is assigned to it"
    return None


def _target(data: BulkIn) -> Status | None:
    if data.action == BulkAction.close:
        return Status.closed
    return data.status if data.action == BulkAction.status else None


def _apply(session: Session, settings: Settings, data: BulkIn, case: Case, actor: str) -> bool:
    """Change one case; False when it already was as asked."""
    assert case.id is not None
    if data.action == BulkAction.priority:
        assert data.priority is not None
        if case.priority == data.priority.value:
            return False
        set_priority(session, case_id=case.id, priority=data.priority, actor=actor)
        return True
    target = _target(data)
    assert target is not None
    if case.status == target.value:
        return False
    transition(session, case_id=case.id, status=target, resolution=data.resolution, actor=actor,
               settings=settings)  # fmt: skip
    return True
