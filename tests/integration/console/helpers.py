"""Driving the console like a browser: sign in with a key, read a form's CSRF token."""

from __future__ import annotations

import re

import httpx

_LOGIN_CSRF = re.compile(r'name="login_csrf" value="([^"]+)"')
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


async def sign_in(client: httpx.AsyncClient, key: str) -> httpx.Response:
    form = await client.get("/console/login")
    assert form.status_code == 200, form.text
    token = _LOGIN_CSRF.search(form.text)
    assert token is not None
    return await client.post("/console/login", data={"login_csrf": token.group(1), "key": key})


async def csrf_of(client: httpx.AsyncClient, path: str = "/console/") -> str:
    page = await client.get(path)
    assert page.status_code == 200, page.text
    found = _CSRF.search(page.text)
    assert found is not None
    return found.group(1)
