"""Request and error bodies of the ServiceNow Push Installation API (seed 000)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from pushgate.services.platforms import MAX_NAME_LENGTH
from pushgate.services.registrations import MAX_TOKEN_LENGTH

_Platform = Annotated[
    str,
    Field(
        min_length=1,
        max_length=MAX_NAME_LENGTH,
        description="The Name of one of the app's push platforms (every app starts with Apple "
        "and Android; see /v1/apps/{app}/push-platforms)",
        examples=["Apple"],
    ),
]


class _Body(BaseModel):
    # ServiceNow ignores body fields it does not know (a client may send the token to
    # removeInstallation too); types are strict: a number is not a platform name.
    model_config = ConfigDict(extra="ignore", strict=True)


class InstallationIn(_Body):
    """POST .../installation: the token to add or update for the signed-in user."""

    platform: _Platform
    token: str = Field(
        min_length=1,
        max_length=MAX_TOKEN_LENGTH,
        description="The token the device manufacturer supplied (APNs device token, FCM token)",
        examples=["544836d77ac2e551bbf78204630509a7d494fc87f52e85da52e5b5d42910e2cf"],
    )


class RemoveInstallationIn(_Body):
    """POST .../removeInstallation: the platform whose tokens of the user are deactivated."""

    platform: _Platform


class ServiceNowErrorDetail(BaseModel):
    message: str = Field(description="Short summary, in ServiceNow's words where it has them")
    detail: str | None = Field(description="The field or rule at fault")


class ServiceNowError(BaseModel):
    """Every error of this dialect: ServiceNow's REST error shape."""

    error: ServiceNowErrorDetail
    status: Literal["failure"] = "failure"
