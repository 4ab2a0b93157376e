"""/v1: apps, keys, OAuth tokens, credentials, registrations, topics."""

from __future__ import annotations

from fastapi import APIRouter

from pushgate.api.v1 import apps, credentials, oauth, registrations, topics

router = APIRouter(prefix="/v1")
for module in (apps, oauth, credentials, registrations, topics):
    router.include_router(module.router)
