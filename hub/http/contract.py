"""The API contract in OpenAPI: stable operation ids and the error answers of every operation.

The error answers are derived from each operation: its security (the bearer dependency: 401,
403), path parameters (404), parameters or body (422), a JSON body (400: malformed JSON) and an
unsafe method (413: the body-size limit; 503: a PostgreSQL deadlock victim, to send again).
What a route's code raises beyond that (409…) is declared in ``DECLARED_ERRORS``, keyed by
operation id.
"""

from typing import Any

from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field, JsonValue

ERROR_SCHEMA = "ErrorResponse"
ERROR_REF = {"$ref": f"#/components/schemas/{ERROR_SCHEMA}"}
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
PATTERN = r"^[a-z]+(_[a-z]+)+$"  # the form of every operation id: noun_verb

# (method, path) -> operation id; a route missing here gets ``{tag}_{function name}`` and
# tests/http/test_contract.py fails until it is named.
OPERATION_IDS = {
    ("POST", "/api/v1/feedback"): "feedback_ingest",
    ("GET", "/api/v1/feedback"): "feedback_list",
    ("GET", "/api/v1/feedback/{feedback_id}"): "feedback_get",
    ("PATCH", "/api/v1/feedback/{feedback_id}/sentiment"): "feedback_correct_sentiment",
    ("POST", "/api/v1/feedback/{feedback_id}/topics"): "feedback_correct_topics",
    ("GET", "/api/v1/metrics/nps"): "metrics_nps",
    ("GET", "/api/v1/metrics/csat"): "metrics_csat",
    ("GET", "/api/v1/metrics/ces"): "metrics_ces",
    ("GET", "/api/v1/metrics/thumbs"): "metrics_thumbs",
    ("GET", "/api/v1/metrics/stars"): "metrics_stars",
    ("GET", "/api/v1/metrics/sentiment"): "metrics_sentiment",
    ("GET", "/api/v1/topics/trends"): "topics_trends",
    ("GET", "/api/v1/topics"): "topics_list",
    ("POST", "/api/v1/topics"): "topics_create",
    ("PATCH", "/api/v1/topics/{key}"): "topics_update",
    ("DELETE", "/api/v1/topics/{key}"): "topics_delete",
    ("POST", "/api/v1/topics/{key}/accept"): "topics_accept",
    ("POST", "/api/v1/topics/{key}/merge"): "topics_merge",
    ("GET", "/api/v1/collectors"): "collectors_list",
    ("GET", "/api/v1/sources"): "sources_list",
    ("POST", "/api/v1/sources"): "sources_create",
    ("GET", "/api/v1/sources/{name}"): "sources_get",
    ("PATCH", "/api/v1/sources/{name}"): "sources_update",
    ("POST", "/api/v1/sources/{name}/run"): "sources_run",
    ("POST", "/api/v1/webhooks/{name}"): "webhooks_receive",
    ("GET", "/api/v1/outbox"): "outbox_list",
    ("POST", "/api/v1/outbox/{message_id}/retry"): "outbox_retry",
    ("GET", "/api/v1/cases"): "cases_list",
    ("POST", "/api/v1/cases"): "cases_open",
    ("GET", "/api/v1/cases/{case_id}"): "cases_get",
    ("GET", "/api/v1/cases/metrics"): "cases_loop_metrics",
    ("POST", "/api/v1/cases/{case_id}/assign"): "cases_assign",
    ("POST", "/api/v1/cases/{case_id}/transition"): "cases_transition",
    ("POST", "/api/v1/cases/{case_id}/priority"): "cases_set_priority",
    ("POST", "/api/v1/cases/{case_id}/notes"): "cases_add_note",
    ("POST", "/api/v1/cases/{case_id}/reply"): "cases_reply",
    ("POST", "/api/v1/cases/bulk"): "cases_bulk_change",
    ("GET", "/api/v1/macros"): "macros_list",
    ("POST", "/api/v1/macros"): "macros_create",
    ("GET", "/api/v1/macros/{macro_id}"): "macros_get",
    ("PUT", "/api/v1/macros/{macro_id}"): "macros_update",
    ("DELETE", "/api/v1/macros/{macro_id}"): "macros_delete",
    ("GET", "/api/v1/macros/{macro_id}/render"): "macros_render",
    ("GET", "/api/v1/customers/at-risk"): "customers_at_risk",
    ("GET", "/api/v1/customers/{customer_id}"): "customers_get",
    ("GET", "/api/v1/routing/rules"): "routing_rules_list",
    ("POST", "/api/v1/routing/rules"): "routing_rules_create",
    ("POST", "/api/v1/routing/rules/try"): "routing_rules_try",
    ("POST", "/api/v1/routing/rules/{rule_id}/apply"): "routing_rules_apply",
    ("PUT", "/api/v1/routing/rules/order"): "routing_rules_reorder",
    ("PUT", "/api/v1/routing/rules/{rule_id}"): "routing_rules_update",
    ("DELETE", "/api/v1/routing/rules/{rule_id}"): "routing_rules_delete",
    ("GET", "/api/v1/users"): "users_list",
    ("POST", "/api/v1/users"): "users_create",
    ("PATCH", "/api/v1/users/{user_id}"): "users_update",
    ("GET", "/api/v1/teams"): "teams_list",
    ("POST", "/api/v1/teams"): "teams_create",
    ("PUT", "/api/v1/teams/{team_id}/members"): "teams_set_members",
    ("PATCH", "/api/v1/teams/{team_id}"): "teams_update",
    ("GET", "/api/v1/nlp/status"): "nlp_status",
    ("GET", "/api/v1/surveys"): "surveys_list",
    ("POST", "/api/v1/surveys"): "surveys_create",
    ("GET", "/api/v1/surveys/{survey_id}"): "surveys_get",
    ("PATCH", "/api/v1/surveys/{survey_id}"): "surveys_update",
    ("GET", "/api/v1/widget/config"): "widget_config",
    ("POST", "/api/v1/responses"): "widget_submit_response",
    ("GET", "/metrics"): "ops_metrics",
    ("GET", "/readyz"): "ops_readyz",
    ("GET", "/healthz"): "ops_healthz",
}

# Errors a route's own code raises that its signature does not show: operation id -> status ->
# when. 429 on the widget route and its other answers are declared on the route itself.
DECLARED_ERRORS: dict[str, dict[int, str]] = {
    "users_create": {409: "a user with this email exists"},
    "teams_create": {409: "a team with this name exists"},
    "topics_create": {409: "a topic with this key exists"},
    "topics_accept": {409: "the topic is not a discovered one, or its name is taken"},
    "topics_merge": {409: "the topic cannot be merged into that one"},
    "sources_create": {409: "a source with this name exists"},
    "outbox_retry": {409: "only failed messages are retried"},
    "cases_open": {409: "the item already has an open case (`details.case_id`)"},
    "routing_rules_apply": {
        409: "the rule sends to nobody (its team and person were removed), or the worker gave "
        "some of the items a case at the same time (nothing was opened: apply again)"
    },
    "macros_create": {409: "a template with this name and language exists"},
    "macros_update": {409: "a template with this name and language exists"},
    "ops_metrics": {401: "`HUB_METRICS_TOKEN` is set and the bearer token is not it"},
}

DESCRIPTIONS = {
    400: "The body is not valid JSON, or a required header is malformed",
    401: "No API key, or one that is unknown or revoked; or a session that has ended",
    403: "The key lacks the scope (or the person the role) this needs, or a missing CSRF token",
    404: "Nothing with this id or key: in the path, or one the body refers to",
    413: "The body is over `HUB_MAX_BODY_BYTES`",
    422: "The input is not valid: `details` lists each error with its `loc`",
    503: "The database rolled the change back (a deadlock or serialization failure on "
    "PostgreSQL); nothing was stored: send it again after `Retry-After`",
}


class ErrorInfo(BaseModel):
    """What went wrong."""

    model_config = ConfigDict(extra="forbid")

    code: str = Field(description="Machine-readable, e.g. `not_found`, `validation_error`")
    message: str = Field(description="For people")
    details: JsonValue = Field(
        description="More about it, or null; for `validation_error` a list of `{loc, message}`"
    )


class ErrorResponse(BaseModel):
    """The body of every error answer."""

    model_config = ConfigDict(extra="forbid")

    error: ErrorInfo


def operation_id(route: APIRoute) -> str:
    """The stable id of ``route``'s operation: ``OPERATION_IDS``, else ``{tag}_{name}``."""
    method = min(route.methods or {"GET"})
    named = OPERATION_IDS.get((method, route.path_format))
    if named is not None:
        return named
    tag = str(route.tags[0]) if route.tags else "api"
    return f"{tag}_{route.name}".lower()


def document_errors(schema: dict[str, Any]) -> None:
    """Give every operation of ``schema`` the error answers it really sends, all with the one
    error body, which replaces FastAPI's unused ``HTTPValidationError``."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        components.pop(unused, None)
    error_schema = ErrorResponse.model_json_schema(ref_template="#/components/schemas/{model}")
    components.update(error_schema.pop("$defs"))
    components[ERROR_SCHEMA] = error_schema
    for path_item in schema["paths"].values():
        for method, operation in path_item.items():
            statuses = _derived_statuses(method.upper(), operation)
            statuses |= DECLARED_ERRORS.get(operation["operationId"], {})
            _attach(operation["responses"], statuses)


def _derived_statuses(method: str, operation: dict[str, Any]) -> dict[int, str]:
    parameters = operation.get("parameters", [])
    body = operation.get("requestBody", {}).get("content", {})
    derived: dict[int, str] = {}
    if operation.get("security"):  # FastAPI lists the bearer dependency here
        derived |= {401: DESCRIPTIONS[401], 403: DESCRIPTIONS[403]}
    if body or any(parameter["in"] == "path" for parameter in parameters):
        derived[404] = DESCRIPTIONS[404]
    if parameters or body:
        derived[422] = DESCRIPTIONS[422]
    if "application/json" in body:
        derived[400] = DESCRIPTIONS[400]
    if method in UNSAFE_METHODS:  # every change is a transaction, and has a body limit
        derived[413] = DESCRIPTIONS[413]
        derived[503] = DESCRIPTIONS[503]
    return derived


def _attach(responses: dict[str, Any], statuses: dict[int, str]) -> None:
    """Add ``statuses`` and point every error answer (4xx, 5xx) at the error body."""
    for status, description in statuses.items():
        declared = responses.setdefault(str(status), {})
        if declared.get("description") in (None, "", "Validation Error"):  # FastAPI's 422
            declared["description"] = description
    for code, response in responses.items():
        if code[0] in "45":
            response["content"] = {"application/json": {"schema": ERROR_REF}}
