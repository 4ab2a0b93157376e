"""The OpenAPI description of this dialect's operations: bodies, parameters and answers.

Routes read their path, query and body themselves (so every refusal is SAP's, with the
JSON parser's own words), so those are described here.
"""

from __future__ import annotations

from typing import Any

from fastapi import Response
from pydantic import BaseModel

from pushgate.dialects.sap.schemas import NotificationStatusResponse, PushResponse, SapError

_ERRORS = {
    400: "The request payload is invalid (malformed JSON, a wrong type, a broken limit, a "
    "body over the size limit)",
    401: "Missing or wrong credentials",
    403: "The key lacks the role this target needs",
    404: "No registration for the user, device, topic, group or capability; or no such path",
    409: "The notification cannot move to this status (not sent yet, or already further)",
    422: "Every target was refused by its native push provider (see pushResults)",
    429: "The app reached its notification quota, the caller its request rate, or the "
    "client address too many failed sign-ins (see Retry-After)",
    500: "A server-side error",
}
SERVICE_KEY: list[dict[str, list[str]]] = [{"ApiKey": []}, {"Basic": []}]
APP_USER: list[dict[str, list[str]]] = [{"Basic": []}, {"Bearer": []}]
_PARAMETERS = {
    "applicationId": "Ignored with a service key (its key names the app; the examples say "
    "`any`); the app's name with the admin key or on the runtime API",
    "username": "The user the device is registered for",
    "deviceId": "The device id given at registration",
    "group": "The push group",
    "capability": "The capability name",
    "notificationId": "A notificationId of pushResults (one delivery)",
    "registrationId": "A target of pushResults",
    "os": "ios, android, windows or w3cpushapi (or a pushgate platform alias such as ios_sandbox)",
    "topic": "The topic name",
}


def inline(schema: dict[str, Any]) -> dict[str, Any]:
    """A model's JSON schema with its $defs inlined (request bodies live outside components)."""
    defs = schema.pop("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                return resolve(defs[ref.removeprefix("#/$defs/")])
            return {k: resolve(v) for k, v in node.items()}
        if isinstance(node, list):
            return [resolve(v) for v in node]
        return node

    resolved: dict[str, Any] = resolve(schema)
    return resolved


def path_parameters(*names: str) -> list[dict[str, Any]]:
    return [
        {
            "name": n,
            "in": "path",
            "required": True,
            "description": _PARAMETERS[n],
            "schema": {"type": "string", "minLength": 1},
        }
        for n in names
    ]


def operation(
    summary: str,
    *,
    ok: dict[int, tuple[type[BaseModel] | None, str]],
    errors: tuple[int, ...],
    error_model: type[BaseModel] = SapError,
    parameters: list[dict[str, Any]] | None = None,
    body: type[BaseModel] | None = None,
    examples: dict[str, Any] | None = None,
    security: list[dict[str, list[str]]] | None = None,
) -> dict[str, Any]:
    """The keyword arguments of add_api_route that document one operation."""
    responses: dict[int | str, dict[str, Any]] = {}
    for status, (model, description) in ok.items():
        entry: dict[str, Any] = {"description": description}
        if model is None:
            entry["content"] = {}
        else:
            entry["model"] = model
        responses[status] = entry
    for status in errors:
        responses[status] = {"model": error_model, "description": _ERRORS[status]}
    extra: dict[str, Any] = {"security": security or SERVICE_KEY}
    if parameters:
        extra["parameters"] = parameters
    if body is not None:
        content: dict[str, Any] = {"schema": inline(body.model_json_schema())}
        if examples:
            content["examples"] = {name: {"value": value} for name, value in examples.items()}
        extra["requestBody"] = {"required": True, "content": {"application/json": content}}
    return {
        "summary": summary,
        "response_class": Response,
        "responses": responses,
        "openapi_extra": extra,
    }


PUSH_ERRORS = (400, 401, 403, 404, 422, 429, 500)


def push_operation(
    summary: str,
    body: type[BaseModel],
    examples: dict[str, Any],
    parameters: list[dict[str, Any]],
    *,
    device: bool = False,
) -> dict[str, Any]:
    ok: dict[int, tuple[type[BaseModel] | None, str]] = {
        200: (PushResponse, "Sent to the providers; review pushResults for each target")
    }
    if device:
        ok[202] = (PushResponse, "Queued: the provider has not answered yet (code -1)")
    described = operation(
        summary, ok=ok, errors=(), parameters=parameters, body=body, examples=examples
    )
    for status in PUSH_ERRORS:
        described["responses"][status] = {"model": PushResponse, "description": _ERRORS[status]}
    return described


def status_operation(summary: str, parameters: list[dict[str, Any]]) -> dict[str, Any]:
    return operation(
        summary,
        ok={200: (NotificationStatusResponse, "The delivery's status")},
        errors=(401, 403, 404, 500),
        error_model=NotificationStatusResponse,
        parameters=parameters,
    )
