"""Which statuses a case can sensibly move to next, and which one is the natural next step."""

from hub.cases.models import TRANSITIONS, Case, Status

# The usual next step of each open status; reopening is decided by the assignee.
NATURAL_NEXT = {
    Status.assigned: Status.in_progress,
    Status.in_progress: Status.waiting_on_customer,
    Status.waiting_on_customer: Status.in_progress,
}


def reopen_status(case: Case) -> Status:
    """Where a resolved or closed case goes back to: its assignee has it, else the queue."""
    return Status.assigned if case.assignee_id is not None else Status.new


def status_choices(case: Case) -> list[Status]:
    """The moves the status menu offers, the natural one first; closing has its own form.

    A resolved or closed case offers only reopening (to ``reopen_status``); ``assigned`` needs
    an assignee; ``new`` is offered last and never first, so nothing falls back to it silently.
    """
    current = Status(case.status)
    if current in (Status.resolved, Status.closed):
        return [reopen_status(case)]
    allowed = TRANSITIONS[current] - {Status.closed}
    if case.assignee_id is None:
        allowed -= {Status.assigned}
    first = natural_next(case)
    rest = [s for s in Status if s in allowed and s not in (first, Status.new)]
    return [first, *rest, *([Status.new] if Status.new in allowed else [])]


def natural_next(case: Case) -> Status:
    """The status the menu preselects: the usual next step from the current one."""
    current = Status(case.status)
    if current in (Status.resolved, Status.closed):
        return reopen_status(case)
    if current == Status.new:
        return Status.assigned if case.assignee_id is not None else Status.in_progress
    return NATURAL_NEXT[current]
