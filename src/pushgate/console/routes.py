"""The console's routes, mounted by app.py under /console."""

from __future__ import annotations

from fastapi import APIRouter

from pushgate.console import (
    app_pages,
    auth_pages,
    registration_pages,
    send_pages,
    simulator,
)

ROUTERS: tuple[APIRouter, ...] = (
    auth_pages.router,
    app_pages.router,
    registration_pages.router,
    send_pages.router,
    simulator.router,
)
