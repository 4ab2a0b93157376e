"""Request and response bodies of the seed, with its field names.

Unknown fields are ignored, as Discord does. Tokens are bounded and free of white space here
already, so that a register with a VoIP token is refused whole before anything is written.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from pushgate.services.device_sync import MAX_SYNC_TOKENS
from pushgate.services.registrations import MAX_TOKEN_LENGTH

# The seed's "Push Notification Provider" table; domain/platforms.py knows each as an alias.
Provider = Literal["gcm", "apns", "apns_internal", "apns_voip", "apns_internal_voip"]
VoipProvider = Literal["apns_voip", "apns_internal_voip"]
MAX_SYNC_TOKEN_LENGTH = 512  # ours are about 60 characters

PushToken = Annotated[
    str,
    Field(
        min_length=1,
        max_length=MAX_TOKEN_LENGTH,
        pattern=r"^\S+$",
        description="The push notification token",
    ),
]
SyncToken = Annotated[str, Field(min_length=1, max_length=MAX_SYNC_TOKEN_LENGTH)]


class _Form(BaseModel):
    model_config = ConfigDict(extra="ignore")


class DeviceIn(_Form):
    provider: Provider = Field(description="The push notification provider of the device")
    token: PushToken


class RegisterDeviceIn(DeviceIn):
    voip_provider: VoipProvider | None = Field(
        default=None, description="The VOIP push notification provider of the device"
    )
    voip_token: PushToken | None = Field(
        default=None, description="The VOIP push notification token to register (PushKit)"
    )


class UnregisterDeviceIn(DeviceIn):
    pass


class SyncDevicesIn(DeviceIn):
    push_sync_tokens: list[SyncToken] = Field(
        max_length=MAX_SYNC_TOKENS, description="Device sync tokens for each account"
    )


class SyncTokenOut(BaseModel):
    token: str = Field(description="The push notification sync token")


class SyncDevicesOut(BaseModel):
    invalid_push_sync_tokens: list[str] = Field(description="Device sync tokens that are invalid")


class DiscordError(BaseModel):
    """Discord's error body; `errors` only on 50035 Invalid Form Body."""

    code: int = Field(description="Discord's JSON error code (0: see the HTTP status)")
    message: str
    errors: dict[str, Any] | None = Field(
        default=None,
        description='Per field, as Discord nests them: {"token": {"_errors": [{"code", '
        '"message"}]}}, list items under their index',
    )
