"""Fixtures of the provider integration tests (each adapter's live in its *_support module)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.integration.providers.fcm_support import FcmWorld, fcm_world_running


@pytest.fixture
async def fcm_world(tmp_path: Path) -> AsyncIterator[FcmWorld]:
    async with fcm_world_running(tmp_path) as world:
        yield world
