"""A hypothesis state machine over registrations and topics, through the HTTP API on SQLite
(reliability.md B2).

Rules register devices (with or without a topic list), subscribe, unsubscribe, delete and
register again, in any order hypothesis finds; after every step the API must agree with a
plain model: each registration's topics, each topic's subscriber list and count, and the
app's registrations. Each example gets an app of its own in one database.
"""

from __future__ import annotations

import asyncio
import itertools
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from pushgate.app import build_runtime
from pushgate.config import async_database_url
from pushgate.store.engine import Database
from tests.conftest import ADMIN_KEY, make_settings, shared_app

TOKENS = ("aa01", "bb02", "cc03", "dd04")
TOPICS = ("news", "sport", "weather")
ADMIN = {"X-API-Key": ADMIN_KEY}
_app_numbers = itertools.count()


class World:
    """An event loop, and a client of one runtime on one SQLite file, shared by the examples."""

    def __init__(self, directory: Path, template: Path) -> None:
        path = directory / "pushgate.db"
        shutil.copyfile(template, path)
        self.loop = asyncio.new_event_loop()
        self.db = Database(async_database_url(f"sqlite:///{path}"))
        runtime, _ = self.run(build_runtime(make_settings(directory), db=self.db))
        self.runtime = runtime
        transport = httpx.ASGITransport(app=shared_app(runtime))
        self.client = httpx.AsyncClient(transport=transport, base_url="http://pushgate.test")

    def run(self, work: Any) -> Any:
        return self.loop.run_until_complete(work)

    def call(self, method: str, path: str, body: Any = None) -> httpx.Response:
        response: httpx.Response = self.run(
            self.client.request(method, path, json=body, headers=ADMIN)
        )
        return response

    def close(self) -> None:
        self.run(self.client.aclose())
        self.run(self.runtime.engine.aclose())
        self.run(self.runtime.limits.aclose())
        self.run(self.db.dispose())
        self.loop.close()


@pytest.fixture
def world(tmp_path: Path, sqlite_template: Path) -> Iterator[World]:
    built = World(tmp_path, sqlite_template)
    try:
        yield built
    finally:
        built.close()


def machine_for(world: World) -> type[RuleBasedStateMachine]:
    class Registrations(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.app = f"sm{next(_app_numbers)}"
            assert world.call("POST", "/v1/apps", {"name": self.app}).status_code == 201
            self.base = f"/v1/apps/{self.app}/registrations"
            self.topics: dict[str, set[str]] = {}  # registered token -> its topics
            self.ids: dict[str, str] = {}  # registered token -> registration id

        @rule(
            token=st.sampled_from(TOKENS),
            topics=st.none() | st.sets(st.sampled_from(TOPICS)),
        )
        def register(self, token: str, topics: set[str] | None) -> None:
            body: dict[str, Any] = {"platform": "ios", "token": token}
            if topics is not None:
                body["topics"] = sorted(topics)
            answer = world.call("POST", self.base, body)
            assert answer.status_code == (200 if token in self.ids else 201), answer.text
            if token in self.ids:
                assert answer.json()["id"] == self.ids[token]  # one registration per token
            self.ids[token] = answer.json()["id"]
            if topics is not None:  # a named field changes; an unnamed one keeps its value
                self.topics[token] = set(topics)
            else:
                self.topics.setdefault(token, set())

        @precondition(lambda self: bool(self.ids))
        @rule(data=st.data(), topic=st.sampled_from(TOPICS))
        def subscribe(self, data: st.DataObject, topic: str) -> None:
            token = data.draw(st.sampled_from(sorted(self.ids)))
            answer = world.call("PUT", f"{self.base}/{self.ids[token]}/topics/{topic}")
            assert answer.status_code == 200, answer.text
            self.topics[token].add(topic)

        @precondition(lambda self: bool(self.ids))
        @rule(data=st.data(), topic=st.sampled_from(TOPICS))
        def unsubscribe(self, data: st.DataObject, topic: str) -> None:
            token = data.draw(st.sampled_from(sorted(self.ids)))
            answer = world.call("DELETE", f"{self.base}/{self.ids[token]}/topics/{topic}")
            if topic in self.topics[token]:
                assert answer.status_code == 204, answer.text
            else:  # idempotent, or "not subscribed": either way nothing changes
                assert answer.status_code in (204, 404), answer.text
            self.topics[token].discard(topic)

        @precondition(lambda self: bool(self.ids))
        @rule(data=st.data())
        def delete(self, data: st.DataObject) -> None:
            token = data.draw(st.sampled_from(sorted(self.ids)))
            answer = world.call("DELETE", f"{self.base}/{self.ids.pop(token)}")
            assert answer.status_code == 204, answer.text
            del self.topics[token]

        @invariant()
        def the_api_agrees_with_the_model(self) -> None:
            listed = world.call("GET", f"{self.base}?limit=100").json()["items"]
            assert {r["token"]: set(r["topics"]) for r in listed} == self.topics
            for topic in TOPICS:
                subscribed = {t for t, topics in self.topics.items() if topic in topics}
                page = world.call("GET", f"{self.base}?topic={topic}&limit=100").json()
                assert {r["token"] for r in page["items"]} == subscribed, topic
                found = world.call("GET", f"/v1/apps/{self.app}/topics/{topic}")
                if found.status_code == 200:  # a topic exists once named; it may stay empty
                    assert found.json()["subscribers"] == len(subscribed), topic
                else:
                    assert found.status_code == 404, topic
                    assert not subscribed, topic

    return Registrations


def test_registrations_and_topics_follow_the_model(world: World) -> None:
    machine = machine_for(world)
    machine.TestCase.settings = settings(
        max_examples=15,
        stateful_step_count=10,
        derandomize=True,  # the same sequences in every run: CI is reproducible
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    machine.TestCase().runTest()
