"""The vendor front doors: one package per seed document, translation only (no business rule).

Each package's `routes.router` is included at the application's root; its routes render
errors in the vendor's shape (http/dialect.py).
"""

from __future__ import annotations

from fastapi import APIRouter

from pushgate.dialects.discord import routes as discord
from pushgate.dialects.mobilefirst import routes as mobilefirst
from pushgate.dialects.pushapi import routes as pushapi
from pushgate.dialects.sap import routes as sap
from pushgate.dialects.servicenow import routes as servicenow

ROUTERS: tuple[APIRouter, ...] = (
    servicenow.router,
    pushapi.router,
    discord.router,
    sap.router,
    mobilefirst.router,
)
