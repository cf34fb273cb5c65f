"""OpenAPI links of the router's schema (``/openapi.json``): how one response's ids feed the
next call, so clients and stateful API fuzzers (schemathesis) can follow a contact's life:
create -> get -> the offered agent's offers -> accept -> wrap-up / complete."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastapi import FastAPI

# (source path, method, status) -> {link name: (target path, method, {parameter: expression})}
LINKS = {
    ("/v1/contacts", "post", "201"): {
        "GetContact": ("/v1/contacts/{contact_id}", "get", {"contact_id": "$response.body#/id"}),
        "CancelContact": (
            "/v1/contacts/{contact_id}/cancel",
            "post",
            {"contact_id": "$response.body#/id"},
        ),
    },
    ("/v1/contacts/{contact_id}", "get", "200"): {
        "OfferedAgentOffers": (
            "/v1/agents/{agent_id}/offers",
            "get",
            {"agent_id": "$response.body#/agent_id"},
        ),
    },
    ("/v1/agents/{agent_id}/offers", "get", "200"): {
        "AcceptOffer": (
            "/v1/offers/{offer_id}/accept",
            "post",
            {"offer_id": "$response.body#/0/id"},
        ),
        "RejectOffer": (
            "/v1/offers/{offer_id}/reject",
            "post",
            {"offer_id": "$response.body#/0/id"},
        ),
    },
    ("/v1/offers/{offer_id}/accept", "post", "200"): {
        "WrapUp": (
            "/v1/contacts/{contact_id}/wrapup",
            "post",
            {"contact_id": "$response.body#/contact/id"},
        ),
        "Complete": (
            "/v1/contacts/{contact_id}/complete",
            "post",
            {"contact_id": "$response.body#/contact/id"},
        ),
    },
}


def add_links(schema: dict) -> dict:
    """``schema`` (FastAPI's OpenAPI dict) with :data:`LINKS` on the responses it has."""
    paths = schema.get("paths", {})
    for (path, method, status), links in LINKS.items():
        response = paths.get(path, {}).get(method, {}).get("responses", {}).get(status)
        if response is None:
            continue
        for name, (target, target_method, parameters) in links.items():
            operation = paths.get(target, {}).get(target_method)
            if operation is None:
                continue
            response.setdefault("links", {})[name] = {
                "operationId": operation["operationId"],
                "parameters": dict(parameters),
            }
    return schema


def install(app: FastAPI) -> None:
    """Serve ``app``'s OpenAPI schema with the links (built once, like FastAPI's own)."""
    build = app.openapi

    def openapi() -> dict:
        if app.openapi_schema is None:
            app.openapi_schema = add_links(build())
        return app.openapi_schema

    app.openapi = openapi
