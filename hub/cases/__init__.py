"""Cases: the follow-up of feedback that needs action, with an SLA and an append-only trail."""
