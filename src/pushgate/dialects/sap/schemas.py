"""Request and response bodies of the SAP Mobile Services push API, with SAP's field names.

Bodies ignore fields they do not know, as SAP's service does; the types of the fields they
know are checked. Limits of the document (alert 2048, sound 256, serialized data 2000,
priority 128) are the domain's and are checked when the payload is built.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema

from pushgate.domain.targets import MAX_LISTED

_Name = Annotated[str, Field(min_length=1, max_length=255)]
_Names = Annotated[list[_Name], Field(max_length=MAX_LISTED)]
_Text = Annotated[str, Field(max_length=4096)]
# Checked by the payload translation (so a wrong type is named by its field alone).
_JsonMap = Annotated[
    Any,
    WithJsonSchema({"anyOf": [{"type": "string"}, {"type": "object"}, {"type": "null"}]}),
]
_TTL_MAX_S = 2_419_200  # FCM's maximum time to live: 28 days


class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore")


class ApnsIn(_Body):
    """`apns`: APNs-only values, merged over what the common fields render to."""

    alert: _Text | None = None
    title: _Text | None = None
    subtitle: _Text | None = None
    body: _Text | None = None
    badge: Annotated[int, Field(ge=0, le=2**31 - 1)] | None = None
    sound: _Text | None = None
    category: _Text | None = Field(default=None, examples=["immediate-action"])
    threadId: _Text | None = None
    contentAvailable: bool | None = None
    mutableContent: bool | None = None
    customValues: _JsonMap = Field(
        default=None,
        description="Custom keys of the APNs payload: a serialized JSON object (or an object)",
        examples=['{"order" : "4711-2314"}'],
    )


class GcmIn(_Body):
    """`gcm`: Android-only values (sent through FCM)."""

    title: _Text | None = None
    body: _Text | None = None
    collapseKey: _Text | None = None
    delayWhileIdle: bool | None = Field(
        default=None, description="Accepted and ignored: FCM no longer offers it"
    )
    timeToLive: Annotated[int, Field(ge=0, le=_TTL_MAX_S)] | None = Field(
        default=None, description="Seconds FCM keeps the message for an offline device"
    )
    priority: _Text | None = None
    restrictedPackageName: _Text | None = None
    icon: _Text | None = None
    color: _Text | None = None
    tag: _Text | None = None
    clickAction: _Text | None = None
    sound: _Text | None = None


class NotificationIn(_Body):
    """A push payload: the common properties and the provider-specific blocks."""

    alert: str | None = Field(default=None, description="At most 2048 characters")
    badge: Annotated[int, Field(ge=0, le=2**31 - 1)] | None = Field(
        default=None, description="0 removes the badge"
    )
    sound: str | None = Field(default=None, description="At most 256 characters")
    data: _JsonMap = Field(
        default=None,
        description="A serialized JSON key/value map (string values; at most 2000 characters)",
        examples=['{"order":"4711"}'],
    )
    priority: str | None = Field(default=None, description="normal or high")
    apns: ApnsIn | None = None
    gcm: GcmIn | None = None


class LocalizedIn(_Body):
    """A fallback notification and variants by locale (de-DE-bay -> de-DE -> de -> fallback)."""

    notification: NotificationIn = Field(description="The fallback notification (mandatory)")
    notifications: dict[str, NotificationIn] = Field(default_factory=dict, max_length=200)


class UsersPushIn(_Body):
    users: _Names = Field(default_factory=list)
    userUUIDs: _Names = Field(default_factory=list, description="Global user ids, past ones too")
    notification: LocalizedIn


class UserNotificationIn(_Body):
    user: _Name | None = None
    userUUID: _Name | None = None
    notification: LocalizedIn = Field(description="Overrides the global notification")


class BulkPushIn(_Body):
    notification: LocalizedIn | None = Field(default=None, description="The global notification")
    userNotifications: Annotated[
        list[UserNotificationIn], Field(min_length=1, max_length=MAX_LISTED)
    ]


class TopicPushIn(_Body):
    users: _Names = Field(default_factory=list)
    userUUIDs: _Names = Field(default_factory=list)
    topics: Annotated[list[_Name], Field(min_length=1, max_length=MAX_LISTED)]
    notification: LocalizedIn


class CapabilityUserIn(_Body):
    user: _Name | None = None
    userUUID: _Name | None = None
    formFactor: _Names = Field(default_factory=list)


class CapabilityPushIn(_Body):
    users: Annotated[list[CapabilityUserIn], Field(max_length=MAX_LISTED)] = Field(
        default_factory=list
    )
    notification: NotificationIn


class SapStatus(BaseModel):
    """SAP's status object: a result code, a message (`notification`) and its parameters."""

    code: int = Field(description="The seed's result code: 0 success, -1 queued, 1..14 errors")
    notification: str | None = Field(description="What went wrong, when something did")
    parameters: list[str] | None = Field(description="The fields the message is about")


class PushResult(BaseModel):
    target: str = Field(description="The registration id (GET v2/backend/registrations/{id})")
    notificationId: str = Field(
        description="This delivery's id (GET .../notifications/{id}/status)"
    )
    code: int
    message: str | None


class PushResponse(BaseModel):
    """Every push answer; on an error `status` says why and pushResults is empty."""

    status: SapStatus | None
    pushResults: list[PushResult]


class StatusDetails(BaseModel):
    notificationId: str
    providerReference: str | None
    applicationId: str | None
    notificationType: str | None = Field(description="ios, android, windows, w3cpushapi, sms")
    status: str = Field(description="QUEUED, SENT, ERROR, RECEIVED, CONSUMED or CONFIRMED")
    statusInfo: str | None = Field(description="Why, for an ERROR (or a QUEUED retry)")
    caller: str


class NotificationStatusResponse(BaseModel):
    status: SapStatus
    statusDetails: StatusDetails | None


class RegistrationOut(BaseModel):
    id: str
    device: str | None
    deviceModel: str | None
    formFactor: str | None
    pushGroup: str | None
    pushProvider: str
    userLocale: str | None
    username: str | None


class RegistrationList(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    value: list[RegistrationOut]
    next_link: str | None = Field(
        default=None,
        alias="@odata.nextLink",
        description="The next page (present only when there may be one)",
    )


class SapError(BaseModel):
    """Errors of the registration queries and the runtime API."""

    status: SapStatus


class CapabilityIn(_Body):
    name: _Name
    category: _Text | None = None
    value: Annotated[
        Any,
        WithJsonSchema({"anyOf": [{"type": "string"}, {"type": "boolean"}, {"type": "null"}]}),
    ] = Field(default=None, description='"false" (or false) leaves the capability out')


class DeviceRegistrationIn(_Body):
    """The document's registration payload."""

    pushToken: Annotated[str, Field(min_length=1, max_length=4096)] | None = None
    pushGroup: _Name | None = None
    timeZone: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    formFactor: Annotated[str, Field(min_length=1, max_length=32)] | None = None
    capabilities: Annotated[list[CapabilityIn], Field(max_length=100)] | None = None
    userLocale: Annotated[str, Field(min_length=1, max_length=35)] | None = None
    deviceModel: _Name | None = None


class ReceiptIn(_Body):
    status: Annotated[str, Field(min_length=1, max_length=16)] = Field(
        description="RECEIVED, CONSUMED or CONFIRMED"
    )
    notificationId: Annotated[str, Field(min_length=1, max_length=64)] | None = Field(
        default=None, description="With .../notifications/status (no id in the path)"
    )


class TopicsOut(BaseModel):
    topics: list[str]
