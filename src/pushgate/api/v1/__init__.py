"""/v1: apps, keys, OAuth tokens, credentials, registrations, topics, notifications, users,
push platforms, events, webhooks, OAuth clients."""

from __future__ import annotations

from fastapi import APIRouter

from pushgate.api.v1 import (
    apps,
    clients,
    credentials,
    events,
    imports,
    notification_errors,
    notifications,
    oauth,
    platforms,
    registrations,
    topics,
    users,
    webhooks,
)

PREFIX = "/v1"
# Included one by one into the application (not nested in a /v1 router): every extra
# router level costs a route-matching pass per request on the hot registration path.
ROUTERS: tuple[APIRouter, ...] = (
    registrations.router,
    apps.router,
    oauth.router,
    credentials.router,
    topics.router,
    notifications.router,
    users.router,
    platforms.router,
    events.router,
    webhooks.router,
    clients.router,
    imports.router,
    notification_errors.router,
)
