"""Send one page of an audience through its providers and turn the answers into rows.

Rows are grouped by provider; each group goes to that app's adapter as one Batch, groups
concurrently. Nothing here writes to the database: `recorder.py` stores what this returns.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

import structlog

from pushgate.delivery.adapters import AdapterPool, Unavailable
from pushgate.delivery.limiter import LocalLimiter, RateLimiter
from pushgate.delivery.prepared import Prepared
from pushgate.delivery.reachability import Reachability
from pushgate.delivery.retry import RetryPolicy, decide_retry
from pushgate.domain.platforms import Platform
from pushgate.domain.statuses import DeliveryStatus, Outcome, ResultCode
from pushgate.providers.base import Batch, Delivery, Provider, Push, SendResult
from pushgate.providers.kinds import ProviderRegistry
from pushgate.store.repos.audience import AudienceRow
from pushgate.store.repos.deliveries import DeliveryRow
from pushgate.telemetry import (
    CREDENTIALS_SUSPECT,
    DELIVERIES,
    PROVIDER_SEND_DURATION,
    RETRIES,
    TOKEN_INVALIDATIONS,
)

_log = structlog.get_logger("pushgate.delivery")

# Mass-invalidation guard: this share of "invalid token" answers in a batch of at least this
# many on one credential means our configuration is wrong (sandbox/production, topic), not
# that the devices died: keep the registrations and mark the credential suspect.
SUSPECT_MIN_ANSWERS = 20
SUSPECT_SHARE = 0.8


@dataclass(frozen=True, slots=True)
class Deactivation:
    registration_id: str
    reason: str
    # Renewed after this instant (re-registered) means alive: keep it (architecture.md).
    cutoff: datetime


@dataclass(frozen=True, slots=True)
class Suspect:
    provider: str
    reason: str


@dataclass(slots=True)
class SendReport:
    """What one page's sending produced, ready for one recording transaction."""

    rows: list[DeliveryRow] = field(default_factory=list)
    sent: int = 0
    errors: int = 0
    deactivations: list[Deactivation] = field(default_factory=list)
    suspects: list[Suspect] = field(default_factory=list)


def _error(code: ResultCode, reason: str) -> SendResult:
    return SendResult(Outcome.REJECTED, code, reason)


ADAPTER_ERROR = SendResult(Outcome.RETRY, ResultCode.RECOVERABLE_IO, "adapter error")


async def _answers(
    adapter: Provider, batch: Batch, provider: str, notification_id: str
) -> list[SendResult]:
    """The adapter's answers, one per delivery, whatever the adapter does.

    An adapter that raises (a bug: style.md 4 has it answer RETRY) has each delivery of the
    batch tried again alone, so that one poison delivery fails alone (its own attempts count
    and it gives up) while its batch-mates are answered (reliability.md F11). A delivery the
    failed call had already sent may go out twice (at-least-once).
    """
    try:
        answers = await adapter.send(batch)
    except Exception:
        _log.exception(
            "provider adapter failed; its deliveries are tried one by one",
            provider=provider,
            app=batch.app_id,
            notification=notification_id,
            deliveries=len(batch.deliveries),
        )
        if len(batch.deliveries) == 1:
            return [ADAPTER_ERROR]
        alone = (replace(batch, deliveries=[d]) for d in batch.deliveries)
        return list(await asyncio.gather(*(_alone(adapter, one) for one in alone)))
    if len(answers) != len(batch.deliveries):
        _log.error("adapter answered the wrong number of results", provider=provider)
        return [ADAPTER_ERROR] * len(batch.deliveries)
    return answers


async def _alone(adapter: Provider, batch: Batch) -> SendResult:
    """One delivery's answer when its batch made the adapter raise (logged once, above)."""
    try:
        answers = await adapter.send(batch)
    except Exception:
        return ADAPTER_ERROR
    return answers[0] if len(answers) == 1 else ADAPTER_ERROR


class Sender:
    def __init__(
        self,
        pool: AdapterPool,
        registry: ProviderRegistry,
        *,
        policy: RetryPolicy,
        send_timeout_s: float,
        clock: Callable[[], datetime],
        rng: random.Random | None = None,
        limiter: RateLimiter | None = None,
    ) -> None:
        self._pool = pool
        self._registry = registry
        self._policy = policy
        self._send_timeout_s = send_timeout_s
        self._clock = clock
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not security  # nosec B311
        self._limiter = limiter or LocalLimiter()
        self._oversized: dict[tuple[int, str], bool] = {}
        self._reachability = Reachability(clock)  # spaces out resends to a provider that is down

    async def send(
        self,
        prepared: Prepared,
        rows: Sequence[AudienceRow],
        attempts: Sequence[int],
        history: dict[str, set[str]] | None = None,
    ) -> SendReport:
        """Deliver `rows` (attempts[i]: the attempt row i is on, this one included)."""
        started = self._clock()
        n = prepared.notification
        pushes = [prepared.push_for(row, history) for row in rows]
        results: list[SendResult | None] = [None] * len(rows)
        if started > n.expires_at:
            # Nothing is sent late (F13); unsent: a claim after the expiry is no attempt.
            expired = SendResult(
                Outcome.REJECTED,
                ResultCode.PROVIDER_FAILED,
                "expired before it could be sent",
                unsent=True,
            )
            results = [expired] * len(rows)
        else:
            self._give_up_lost(prepared, attempts, results)
            groups: dict[str, list[int]] = {}
            for index, row in enumerate(rows):
                if results[index] is None:
                    groups.setdefault(row.platform.provider, []).append(index)
            await asyncio.gather(
                *(
                    self._send_group(prepared, provider, indexes, rows, pushes, results)
                    for provider, indexes in groups.items()
                )
            )
        return self._report(prepared, rows, attempts, results, started)

    def _give_up_lost(
        self, prepared: Prepared, attempts: Sequence[int], results: list[SendResult | None]
    ) -> None:
        """ERROR, unsent, for deliveries claimed beyond the last attempt allowed.

        Attempts are counted when claimed, answers when recorded: a delivery claimed for
        attempt max + 1 had its max attempts and no answer to any of them was recorded, so
        each was lost with its worker (killed, or hung until its lease ran out). It is not
        sent again: a token that kills its worker would kill every next one (F11).
        """
        limit = self._policy.max_attempts
        lost = [i for i, attempt in enumerate(attempts) if attempt > limit]
        if not lost:
            return
        reason = f"no answer recorded after {limit} attempts (each was lost with its worker)"
        given_up = SendResult(Outcome.REJECTED, ResultCode.PROVIDER_FAILED, reason, unsent=True)
        for i in lost:
            results[i] = given_up
        _log.warning(
            "deliveries given up: every attempt was lost",
            notification=prepared.notification.id,
            deliveries=len(lost),
        )

    async def _send_group(
        self,
        prepared: Prepared,
        provider: str,
        indexes: list[int],
        rows: Sequence[AudienceRow],
        pushes: Sequence[Push],
        results: list[SendResult | None],
    ) -> None:
        n = prepared.notification
        adapter = await self._pool.get(n.app_id, provider)
        if isinstance(adapter, Unavailable):
            unavailable = _error(ResultCode.CONFIGURATION_EXPIRED, adapter.reason)
            for i in indexes:
                results[i] = unavailable
            DELIVERIES.labels(provider, "unconfigured").inc(len(indexes))
            return
        fitting = self._drop_oversized(indexes, rows, pushes, results)
        sendable = await self._rate_limit(prepared, provider, fitting, results)
        _count_unsent(provider, len(indexes), len(fitting), len(sendable))
        if not sendable:
            return
        nid = n.id
        deliveries = [Delivery(nid + rows[i].registration_id, rows[i], pushes[i]) for i in sendable]
        loop = asyncio.get_running_loop()
        batch = Batch(n.app_id, deliveries, loop.time() + self._send_timeout_s)
        started = time.perf_counter()
        answers = await _answers(adapter, batch, provider, n.id)
        PROVIDER_SEND_DURATION.labels(provider).observe(time.perf_counter() - started)
        self._reachability.note(n.app_id, provider, [rows[i].token for i in sendable], answers)
        for outcome, count in Counter(answer.outcome for answer in answers).items():
            DELIVERIES.labels(provider, outcome.value).inc(count)
        for i, answer in zip(sendable, answers, strict=True):
            results[i] = answer

    def _drop_oversized(
        self,
        indexes: list[int],
        rows: Sequence[AudienceRow],
        pushes: Sequence[Push],
        results: list[SendResult | None],
    ) -> list[int]:
        """Too large for the provider: a per-target error, never sent (result code 9)."""
        # A few distinct (push, platform) pairs per batch; pushes compare by identity (shared).
        pairs = {(id(pushes[i]), rows[i].platform): pushes[i] for i in indexes}
        too_large = {key for key, push in pairs.items() if self._too_large(push, key[1])}
        if not too_large:
            return indexes
        refused = _error(ResultCode.TOO_LARGE, "payload over the provider's limit")
        keep: list[int] = []
        for i in indexes:
            if (id(pushes[i]), rows[i].platform) in too_large:
                results[i] = refused
            else:
                keep.append(i)
        return keep

    def _too_large(self, push: Push, platform: Platform) -> bool:
        key = (id(push), platform.value)
        found = self._oversized.get(key)
        if found is None:
            if len(self._oversized) > 4096:
                self._oversized.clear()
            found = self._oversized[key] = self._registry.oversized(push, platform)
        return found

    async def _rate_limit(
        self,
        prepared: Prepared,
        provider: str,
        indexes: list[int],
        results: list[SendResult | None],
    ) -> list[int]:
        rate = prepared.rate_limits.get(provider)
        if rate is None or not indexes:
            return indexes
        key = (prepared.notification.app_id, provider)
        granted, wait_s = await self._limiter.take(key, rate, len(indexes))
        held = SendResult(
            Outcome.RETRY, ResultCode.QUEUED, "app rate limit", retry_after_s=wait_s, unsent=True
        )
        for i in indexes[granted:]:
            results[i] = held
        return indexes[:granted]

    def _report(
        self,
        prepared: Prepared,
        rows: Sequence[AudienceRow],
        attempts: Sequence[int],
        results: Sequence[SendResult | None],
        started: datetime,
    ) -> SendReport:
        nid = prepared.notification.id
        now = self._clock()
        report = SendReport()
        append = report.rows.append
        dead: dict[str, list[Deactivation]] = {}
        retried: Counter[str] = Counter()
        sent_status, sent_code = int(DeliveryStatus.SENT), int(ResultCode.SENT)
        for row, attempt, result in zip(rows, attempts, results, strict=True):
            rid = row.registration_id
            if result is not None and result.outcome is Outcome.SENT:  # the common case
                report.sent += 1
                append((nid, rid, sent_status, sent_code, attempt, row.platform.value, None,
                        result.provider_ref, None, now))  # fmt: skip
                continue
            result = result or SendResult(Outcome.RETRY, ResultCode.RECOVERABLE_IO, "not sent")
            provider = row.platform.provider
            status, code, reason, at = self._fate(prepared, row, result, attempt, now)
            counted = attempt - 1 if result.unsent else attempt
            if result.outcome is Outcome.DEAD_TOKEN:
                cutoff = result.provider_timestamp or started
                dead.setdefault(provider, []).append(
                    Deactivation(rid, reason or "token rejected by the provider", cutoff)
                )
            if status is DeliveryStatus.ERROR:
                report.errors += 1
            elif status is DeliveryStatus.QUEUED:
                retried[provider] += 1
            short = reason[:255] if reason else None
            append((nid, rid, int(status), int(code), counted, row.platform.value, short,
                    result.provider_ref, at, now))  # fmt: skip
        self._guard(rows, dead, report)
        for provider, count in retried.items():
            RETRIES.labels(provider).inc(count)
        return report

    def _fate(
        self, prepared: Prepared, row: AudienceRow, result: SendResult, attempt: int, now: datetime
    ) -> tuple[DeliveryStatus, ResultCode, str | None, datetime | None]:
        """(status, code, reason, next attempt) of a delivery whose answer was not SENT."""
        if result.outcome is not Outcome.RETRY:
            return DeliveryStatus.ERROR, result.code, result.reason, None
        app_id, provider = prepared.notification.app_id, row.platform.provider
        decision = decide_retry(
            self._policy,
            attempts=attempt - 1 if result.unsent else attempt,
            now=now,
            expires_at=prepared.notification.expires_at,
            once=prepared.request.options.once,
            retry_after_s=result.retry_after_s,
            unsent=result.unsent,
            code=result.code,
            reason=result.reason,
            rng=self._rng,
            unreachable_s=self._reachability.unreachable_s(app_id, provider, row.token, now),
        )
        if decision.next_attempt_at is not None:
            at = decision.next_attempt_at
            return DeliveryStatus.QUEUED, ResultCode.RECOVERABLE_IO, result.reason, at
        return (
            DeliveryStatus.ERROR,
            decision.give_up_code or result.code,
            decision.give_up_reason,
            None,
        )

    @staticmethod
    def _guard(
        rows: Sequence[AudienceRow], dead: dict[str, list[Deactivation]], report: SendReport
    ) -> None:
        """Deactivate dead tokens, unless most of a credential's answers were "dead"."""
        for provider, found in dead.items():
            answered = sum(1 for r in rows if r.platform.provider == provider)
            if answered >= SUSPECT_MIN_ANSWERS and len(found) / answered > SUSPECT_SHARE:
                share = round(100 * len(found) / answered)
                CREDENTIALS_SUSPECT.labels(provider).inc()
                report.suspects.append(
                    Suspect(
                        provider,
                        f"{len(found)} of {answered} answers ({share} %) said the token is "
                        "invalid: check the credential's environment (sandbox/production) and "
                        "topic; registrations were kept",
                    )
                )
                continue
            TOKEN_INVALIDATIONS.labels(provider).inc(len(found))
            report.deactivations.extend(found)


def _count_unsent(provider: str, grouped: int, fitting: int, sendable: int) -> None:
    """Deliveries of a group that were not sent: too large, or held by the app's rate limit."""
    if fitting < grouped:
        DELIVERIES.labels(provider, "too_large").inc(grouped - fitting)
    if sendable < fitting:
        DELIVERIES.labels(provider, "rate_limited").inc(fitting - sendable)
