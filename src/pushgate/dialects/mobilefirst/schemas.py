"""MobileFirst's bodies, with its field names. Requests ignore fields they do not know (as the
vendor's JSON binding does) and check the types of those they do; answers leave out what is
not set."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

_Id = Annotated[str, Field(min_length=1, max_length=255)]
_Text = Annotated[str, Field(max_length=255)]


class Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class DeviceIn(Lenient):
    deviceId: _Id | None = None
    phoneNumber: _Text | None = None
    platform: Annotated[str, Field(max_length=16)] | None = Field(
        default=None, description="A (Apple), G (Google) or W (Windows)"
    )
    token: Annotated[str, Field(min_length=1, max_length=2048)] | None = None
    userId: _Text | None = None
    userAgent: _Text | None = None


class DeviceOut(BaseModel):
    createdMode: str | None = None
    createdTime: str | None = None
    deviceId: str
    lastUpdatedTime: str | None = None
    phoneNumber: str | None = None
    platform: str | None = None
    token: str | None = None
    userAgent: str | None = None
    userId: str | None = None


class PageInfo(BaseModel):
    count: str
    next: str
    previous: str
    totalCount: str


class DeviceList(BaseModel):
    devices: list[DeviceOut]
    pageInfo: PageInfo


class SubscriptionIn(Lenient):
    deviceId: _Id
    tagName: _Id


class SubscriptionOut(BaseModel):
    deviceId: str
    tagName: str
    subscriptionId: str | None = None
    platform: str | None = None
    token: str | None = None
    userId: str | None = None
    createdMode: str | None = None
    createdTime: str | None = None


class SubscriptionList(BaseModel):
    """The seed's shape: the subscribed devices under `devices`, each with its tag."""

    devices: list[SubscriptionOut]
    pageInfo: PageInfo


class TagIn(Lenient):
    name: _Id | None = None
    description: Annotated[str, Field(max_length=2000)] | None = None


class TagOut(BaseModel):
    createdMode: str | None = None
    createdTime: str | None = None
    description: str | None = None
    lastUpdatedTime: str | None = None
    name: str
    subscriptionCount: str | None = None


class TagList(BaseModel):
    tags: list[TagOut]
    pageInfo: PageInfo


class ApplicationIn(Lenient):
    applicationId: Annotated[str, Field(min_length=1, max_length=128)] | None = None
    enabled: bool | str | None = Field(default=None, description='true or false (or "true")')


class ApplicationOut(BaseModel):
    applicationId: str
    enabled: str | None = None
    createdTime: str | None = None
    lastUpdatedTime: str | None = None


class ApplicationList(BaseModel):
    applications: list[ApplicationOut]
    pageInfo: PageInfo


class ApplicationSettings(BaseModel):
    apnsConf: dict[str, Any] | None = None
    gcmConf: dict[str, Any] | None = None
    wnsConf: dict[str, Any] | None = None
    smsConf: dict[str, Any] | None = None


class MessageAccepted(BaseModel):
    messageId: str
    message: dict[str, Any] | None = None
    notificationType: int | None = None


class MessageOut(BaseModel):
    alert: str | None = None
    messageId: str
    notificationType: int | None = None
    state: str | None = Field(default=None, description="queued, sending, done, ...")
    counts: dict[str, int] | None = None
    createdTime: str | None = None


class BulkAccepted(BaseModel):
    messages: list[MessageAccepted]


class WebhookIn(Lenient):
    name: Annotated[str, Field(min_length=1, max_length=128)] | None = None
    url: Annotated[str, Field(min_length=1, max_length=2048)] | None = None
    eventTypes: str | list[Annotated[str, Field(max_length=64)]] | None = Field(
        default=None,
        description="Comma-separated (or a list): onDeviceRegister, onDeviceUpdate, "
        "onDeviceUnregister, onSubscribe, onUnsubscribe, pushgate's kinds (message.delivered, "
        "...), or ALL",
    )
    rotateSecret: bool | None = Field(default=None, description="true: a new signing secret")


class WebhookOut(BaseModel):
    name: str
    url: str
    eventTypes: str
    secret: str | None = Field(
        default=None, description="The signing secret: only when created or rotated"
    )


class WebhookList(BaseModel):
    webhooks: list[WebhookOut]


class ProviderHealthOut(BaseModel):
    state: str = Field(description="UP, DEGRADED (suspect credentials, a retry backlog)")
    retrying: int
    suspectCredentials: int


class HealthOut(BaseModel):
    status: str = Field(description="UP when the database and the queue answer, else DOWN")
    database: str
    queue: str
    providers: dict[str, ProviderHealthOut]
