"""What the OpenAPI document says about credentials and rate limits, added once to the
generated schema (app.py)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI


def document_security(app: FastAPI, prefix: str) -> None:
    """Declare the accepted credentials in OpenAPI (parsing them is http/deps.py's job).

    Declared here once instead of as per-route security dependencies, which FastAPI would
    run on every request only to feed the documentation.
    """
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = build()
        schema.setdefault("components", {})["securitySchemes"] = {
            "ApiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
            "Bearer": {
                "type": "http",
                "scheme": "bearer",
                "description": "An API key or an access token from /v1/oauth/token",
            },
            "Basic": {"type": "http", "scheme": "basic", "description": "alias:key"},
        }
        for path, operations in schema.get("paths", {}).items():
            for operation in operations.values():
                if path.startswith(prefix + "/apps"):
                    operation["security"] = [{"ApiKey": []}, {"Bearer": []}, {"Basic": []}]
                document_rate_limit(operation.setdefault("responses", {}))
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def document_rate_limit(responses: dict[str, Any]) -> None:
    """Every API operation may answer 429 (http/rate_limits.py): the native routers, SAP,
    ServiceNow and Discord describe it with their error body, the others get it here."""
    if "429" not in responses and "4XX" not in responses:
        responses["429"] = {
            "description": "Over the caller's request rate, or too many failed sign-ins from "
            "this address; retry after Retry-After seconds"
        }
