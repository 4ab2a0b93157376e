"""Bulk registration import: many registrations in one request, each checked as one.

Every row passes exactly the checks of `register_device` (platform alias, token, topic
names, Web Push keys on creation, the Web Push endpoint's address) and gets its own
outcome: a refused row never fails its neighbours. The accepted rows of a batch are written
in one transaction (store/registration_import.py). An app whose webhooks want device events
imports row by row through `register_device`, which records each row's event.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy.exc import IntegrityError

from pushgate.domain.names import check_topic_name
from pushgate.domain.platforms import Platform, resolve_platform
from pushgate.domain.records import RegistrationWrite
from pushgate.errors import MissingField, NotFound, PushgateError
from pushgate.providers.addresses import UnresolvableHost, check_push_endpoint
from pushgate.providers.base import ProviderOptions
from pushgate.services.registrations import check_token, register_device, wants_device_events
from pushgate.store.engine import Database
from pushgate.store.registration_import import ImportRow, RegistrationImportRepo
from pushgate.store.uow import UnitOfWork, unit_of_work

MAX_IMPORT_ROWS = 1000  # per request: ~0.1-0.3 s of work, well inside any client's timeout
_ENDPOINT_CHECKS = 16  # Web Push endpoints checked at once
_ENDPOINT_CHECK_S = 2.0  # DNS for the endpoint check, as for a single registration


@dataclass(frozen=True, slots=True)
class ImportItem:
    """A row that passed request validation: what a single registration request carries."""

    platform: str
    token: str
    write: RegistrationWrite


@dataclass(frozen=True, slots=True)
class RowOutcome:
    registration_id: str | None = None
    created: bool = False
    error: PushgateError | None = None


@dataclass(frozen=True, slots=True)
class _Checked:
    index: int
    platform: Platform
    token: str
    write: RegistrationWrite


async def import_registrations(
    db: Database,
    app_id: int,
    items: Sequence[ImportItem | PushgateError],
    now: datetime,
    *,
    endpoints: ProviderOptions,
) -> list[RowOutcome]:
    """Upsert each item as `register_device` would; one outcome per item, in order.

    Items that are already errors (the row failed request validation) are answered as such.
    """
    outcomes = [
        RowOutcome(error=item) if isinstance(item, PushgateError) else RowOutcome()
        for item in items
    ]
    checked: list[_Checked] = []
    for index, item in enumerate(items):
        if isinstance(item, PushgateError):
            continue
        try:
            checked.append(_check(index, item))
        except PushgateError as exc:
            outcomes[index] = RowOutcome(error=exc)
    checked = await _check_endpoints(checked, outcomes, endpoints)
    if await wants_device_events(db, app_id):
        await _one_by_one(db, app_id, checked, outcomes, now, endpoints)
        return outcomes
    for batch in _rounds(checked):
        try:
            async with unit_of_work(db) as uow:
                await _write(uow, app_id, batch, outcomes, now)
        except IntegrityError:  # the app vanished between authentication and this write
            gone = NotFound("no app with this name", field="app")
            for row in batch:
                outcomes[row.index] = RowOutcome(error=gone)
    return outcomes


def _check(index: int, item: ImportItem) -> _Checked:
    resolved = resolve_platform(item.platform)
    check_token(item.token)
    write = item.write
    if resolved.sandbox is not None and "sandbox" not in write.values:
        write = replace(write, values={**write.values, "sandbox": resolved.sandbox})
    for position, name in enumerate(write.topics or ()):
        check_topic_name(name, field=f"topics[{position}]")
    return _Checked(index, resolved.platform, item.token, write)


async def _check_endpoints(
    checked: list[_Checked], outcomes: list[RowOutcome], endpoints: ProviderOptions
) -> list[_Checked]:
    """Web Push endpoints must not point at private addresses, as for a single registration;
    a batch's subscriptions share a few push services, so each host is resolved once."""
    web_push = [row for row in checked if row.platform is Platform.WEBPUSH]
    if not web_push:
        return checked
    resolver = _SharedResolver()
    slots = asyncio.Semaphore(_ENDPOINT_CHECKS)
    refused: set[int] = set()

    async def check(row: _Checked) -> None:
        async with slots:
            try:
                async with asyncio.timeout(_ENDPOINT_CHECK_S):
                    await check_push_endpoint(
                        row.token,
                        allow_private=endpoints.allow_private_addresses,
                        allow_hosts=endpoints.allowed_hosts,
                        resolver=resolver,
                    )
            except (UnresolvableHost, TimeoutError):
                return  # as register_device: the adapter checks again at every send
            except PushgateError as exc:
                outcomes[row.index] = RowOutcome(error=exc)
                refused.add(row.index)

    await asyncio.gather(*(check(row) for row in web_push))
    return [row for row in checked if row.index not in refused]


class _SharedResolver:
    """getaddrinfo once per (host, port) for a batch; every row waits for the same answer."""

    def __init__(self) -> None:
        self._answers: dict[tuple[str, int], asyncio.Future[list[str]]] = {}

    async def __call__(self, host: str, port: int) -> Sequence[str]:
        answer = self._answers.get((host, port))
        if answer is None:
            answer = asyncio.ensure_future(self._resolve(host, port))
            # Retrieved here, so a lookup whose waiters all timed out is never "unretrieved".
            answer.add_done_callback(lambda done: done.cancelled() or done.exception())
            self._answers[(host, port)] = answer
        return await asyncio.shield(answer)

    @staticmethod
    async def _resolve(host: str, port: int) -> list[str]:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
        return [str(info[4][0]) for info in infos]


def _rounds(checked: list[_Checked]) -> list[list[_Checked]]:
    """Split rows so no round names one (platform, token) twice; a repeat is applied after
    the row before it, as two requests in file order would be."""
    rounds: list[list[_Checked]] = []
    seen: dict[tuple[Platform, str], int] = {}
    for row in checked:
        key = (row.platform, row.token)
        number = seen.get(key, -1) + 1
        seen[key] = number
        if number == len(rounds):
            rounds.append([])
        rounds[number].append(row)
    return rounds


async def _write(
    uow: UnitOfWork, app_id: int, rows: list[_Checked], outcomes: list[RowOutcome], now: datetime
) -> None:
    repo = RegistrationImportRepo(uow.conn)
    rows = await _refuse_keyless_web_push(repo, app_id, rows, outcomes)
    written = await repo.upsert(
        app_id, [ImportRow(r.platform, r.token, r.write.values, r.write.active) for r in rows], now
    )
    created = {w.registration_id for w in written if w.created}
    topics: dict[str, set[str]] = {}
    capabilities: dict[str, set[str]] = {}
    uuids: list[tuple[str, str]] = []
    for row, done in zip(rows, written, strict=True):
        outcomes[row.index] = RowOutcome(done.registration_id, done.created)
        if row.write.topics is not None:
            topics[done.registration_id] = set(row.write.topics)
        if row.write.capabilities is not None:
            capabilities[done.registration_id] = set(row.write.capabilities)
        if row.write.values.get("user_uuid"):
            uuids.append((done.registration_id, row.write.values["user_uuid"]))
    if topics:
        ids = await uow.topics.ensure(app_id, set().union(*topics.values()), now)
        wanted = {rid: {ids[name] for name in names} for rid, names in topics.items()}
        await repo.replace_topics(wanted, created, now)
    if capabilities:
        await repo.replace_capabilities(capabilities, created, now)
    await repo.record_user_uuids(uuids, now)


async def _refuse_keyless_web_push(
    repo: RegistrationImportRepo, app_id: int, rows: list[_Checked], outcomes: list[RowOutcome]
) -> list[_Checked]:
    """A new Web Push subscription needs its keys (an existing one keeps those it has)."""
    keyless = [
        r
        for r in rows
        if r.platform is Platform.WEBPUSH
        and not (r.write.values.get("p256dh") and r.write.values.get("auth_secret"))
    ]
    if not keyless:
        return rows
    existing = await repo.existing(app_id, ((r.platform, r.token) for r in keyless))
    refused = {r.index for r in keyless if (r.platform.value, r.token) not in existing}
    for index in refused:
        outcomes[index] = RowOutcome(
            error=MissingField(
                "a Web Push subscription needs keys.p256dh and keys.auth", field="keys"
            )
        )
    return [r for r in rows if r.index not in refused]


async def _one_by_one(
    db: Database,
    app_id: int,
    checked: list[_Checked],
    outcomes: list[RowOutcome],
    now: datetime,
    endpoints: ProviderOptions,
) -> None:
    for row in checked:
        try:
            registration, created = await register_device(
                db, app_id, row.platform.value, row.token, row.write, now, endpoints=endpoints
            )
        except PushgateError as exc:
            outcomes[row.index] = RowOutcome(error=exc)
            continue
        outcomes[row.index] = RowOutcome(registration.id, created)
