"""The POST Push API's request and answers, by the vendor's names (seed 001).

The request's types are checked strictly: a string where a number belongs, a number where
true/false belongs, a fraction or a negative ExpirySecs is a 400 naming the field. An empty
string counts as absent, as in the document's sample body.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_pascal

from pushgate.domain.payload import (
    MAX_ALERT,
    MAX_TTL,
    Content,
    DeliveryOptions,
    Message,
    build_message,
    expiry,
)
from pushgate.errors import InvalidInput, MissingField
from pushgate.services.notifications import TargetResult
from pushgate.services.user_push import UserPushed, UserSelector

MAX_INT32 = 2**31 - 1  # the document's "Integer": a 32-bit signed integer
MAX_COMPANY_ID = 2**63 - 1  # app ids are 64-bit row ids
MAX_KEY = 1024
# Keys of the display-expiry hint in the payload's custom data (what the device app reads).
HINT_SECONDS = "ExpirySecs"
HINT_AT = "ExpiresAt"

# The kind of every field, for reading XML text (JSON carries its own types).
FIELD_KINDS: dict[str, type] = {
    "UserId": str,
    "UserEmail": str,
    "UserExternalId": str,
    "Title": str,
    "Body": str,
    "Sound": bool,
    "ExpirySecs": int,
    "CompanyId": int,
    "IntegrationKey": str,
}
_MESSAGES = {
    "UserId": "must be a string of at most 255 characters",
    "UserEmail": "must be a string of at most 320 characters",
    "UserExternalId": "must be a string of at most 255 characters",
    "Title": f"must be a string of at most {MAX_ALERT} characters",
    "Body": f"must be a string of at most {MAX_ALERT} characters",
    "Sound": "must be true or false",
    "ExpirySecs": f"must be a whole number of seconds from 0 to {MAX_INT32}",
    "CompanyId": f"must be a whole number from 0 to {MAX_COMPANY_ID}",
    "IntegrationKey": f"must be a string of at most {MAX_KEY} characters",
}


def _title(name: str, _info: object) -> str:
    return to_pascal(name)


class _Vendor(BaseModel):
    """Python names outside, the vendor's PascalCase names on the wire."""

    model_config = ConfigDict(
        alias_generator=to_pascal, field_title_generator=_title, populate_by_name=True
    )


class PushApiRequest(BaseModel):
    """The body: a user identifier, the message, and the credentials (CompanyId,
    IntegrationKey). Unknown fields are ignored; JSON names match in any case."""

    model_config = ConfigDict(
        alias_generator=to_pascal,
        field_title_generator=_title,
        strict=True,
        extra="ignore",
        validate_by_name=False,
    )

    user_id: str | None = Field(default=None, max_length=255, description="The user's name")
    user_email: str | None = Field(default=None, max_length=320)
    user_external_id: str | None = Field(default=None, max_length=255)
    title: str | None = Field(default=None, max_length=MAX_ALERT)
    body: str | None = Field(default=None, max_length=MAX_ALERT)
    sound: bool | None = Field(default=None, description="true: the device's default sound")
    expiry_secs: int | None = Field(
        default=None,
        ge=0,
        le=MAX_INT32,
        description="Display expiry hint and delivery TTL (at most 28 days); 0: none",
    )
    company_id: int | None = Field(default=None, ge=0, le=MAX_COMPANY_ID)
    integration_key: str | None = Field(default=None, max_length=MAX_KEY)

    @classmethod
    def parse(cls, fields: dict[str, Any]) -> PushApiRequest:
        """Validate the body's fields (vendor names); 400 naming the first field at fault."""
        try:
            parsed = cls.model_validate(fields)
        except ValidationError as exc:
            location = exc.errors()[0]["loc"]
            name = str(location[0]) if location else None
            message = _MESSAGES.get(name or "", "is not valid")
            raise InvalidInput(message, field=name) from None
        for name, value in fields.items():
            if isinstance(value, str) and not _is_text(value):
                # Only JSON can carry these (XML cannot); no store or hash takes them.
                raise InvalidInput(
                    "must be text without NUL characters or unpaired surrogates", field=name
                )
        if not (parsed.user_id or parsed.user_email or parsed.user_external_id):
            raise MissingField(
                "name the user: UserId, UserEmail or UserExternalId (empty counts as absent)",
                field="UserId",
            )
        if not (parsed.title or parsed.body):
            raise MissingField("give a Title or a Body (empty counts as absent)", field="Body")
        return parsed

    def selector(self) -> UserSelector:
        """The user identifiers given; an empty string is no identifier."""
        return UserSelector(
            self.user_id or None, self.user_email or None, self.user_external_id or None
        )

    def to_message(self, now: datetime) -> tuple[Message, DeliveryOptions]:
        """The notification: Sound true is the default sound; ExpirySecs a hint and the TTL."""
        data: dict[str, str] | None = None
        ttl: timedelta | None = None
        if self.expiry_secs:
            period = timedelta(seconds=self.expiry_secs)
            # Providers keep a message at most 28 days; the display hint keeps the full period.
            ttl = min(period, MAX_TTL)
            data = {
                HINT_SECONDS: str(self.expiry_secs),
                HINT_AT: (now + period).strftime("%Y-%m-%dT%H:%M:%SZ"),
            }
        content = Content(
            title=self.title or None,
            body=self.body or None,
            sound="default" if self.sound else None,
            data=data,
        )
        options = DeliveryOptions(expires_at=expiry(now, ttl=ttl, expires_at=None))
        return build_message(content, {}), options


def _is_text(value: str) -> bool:
    if "\x00" in value:
        return False
    try:
        value.encode()
    except UnicodeEncodeError:
        return False
    return True


class PushApiDevice(_Vendor):
    """One registration of the user and what its provider answered."""

    registration_id: str
    delivery_id: str
    platform: str
    status: str = Field(description="SENT, ERROR, or QUEUED when the provider has not answered")
    code: int = Field(description="-1 queued, 0 sent, 1..14 errors (SAP result codes)")
    message: str | None

    @classmethod
    def of(cls, result: TargetResult) -> PushApiDevice:
        return cls(
            registration_id=result.registration_id,
            delivery_id=result.delivery_id,
            platform=result.platform,
            status=result.status.name,
            code=int(result.code),
            message=result.message,
        )


class PushApiResponse(_Vendor):
    """The notification and a result per active registration of the user."""

    notification_id: str
    user_id: str = Field(description="The name of the user it went to")
    devices: list[PushApiDevice]

    @classmethod
    def of(cls, pushed: UserPushed) -> PushApiResponse:
        return cls(
            notification_id=pushed.accepted.notification.id,
            user_id=pushed.user.name,
            devices=[PushApiDevice.of(r) for r in pushed.accepted.results or ()],
        )


class PushApiResponseError(_Vendor):
    error_code: str
    field_name: str
    message: str


class PushApiResponseStatus(_Vendor):
    error_code: str
    message: str
    errors: list[PushApiResponseError]


class PushApiError(_Vendor):
    """Every error: a ResponseStatus, with the field at fault in Errors when there is one."""

    response_status: PushApiResponseStatus


# List elements in XML answers: <Devices><Device/></Devices>, <Errors><ResponseError/></Errors>.
XML_ITEMS = {"Devices": "Device", "Errors": "ResponseError"}
