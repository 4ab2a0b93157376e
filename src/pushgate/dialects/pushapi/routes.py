"""Routes of this dialect (to be implemented)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(include_in_schema=True)
