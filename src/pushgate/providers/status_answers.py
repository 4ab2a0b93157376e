"""A row of an adapter's HTTP status table (WNS, SMS) and the SendResult it gives.

Each adapter keeps its own table (style.md section 4: a literal with a unit test per row);
what a row means for one answer is the same everywhere: a RETRY honours Retry-After.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from pushgate.domain.statuses import Outcome, ResultCode
from pushgate.providers.base import SendResult
from pushgate.providers.http import HttpResponse
from pushgate.providers.retry_after import parse_retry_after


@dataclass(frozen=True, slots=True)
class Answer:
    outcome: Outcome
    code: ResultCode
    reason: str

    def result(self, response: HttpResponse, now: datetime) -> SendResult:
        """This row as the answer to `response`; `now` anchors an HTTP-date Retry-After."""
        retry_after = None
        if self.outcome is Outcome.RETRY:
            retry_after = parse_retry_after(response.header("retry-after"), now)
        return SendResult(self.outcome, self.code, self.reason, retry_after_s=retry_after)
