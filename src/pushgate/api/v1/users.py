"""App users, the tokens pushgate issues to them, and the app's secret for user JWTs."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel, Field

from pushgate.api.v1.common import ROUTER_DEFAULTS, StrictModel, errors
from pushgate.domain.records import AppUser, UserToken
from pushgate.domain.roles import Role
from pushgate.http.deps import AppScope, PageDep, RuntimeDep, app_scope, next_cursor
from pushgate.services import users as user_service

router = APIRouter(tags=["users"], **ROUTER_DEFAULTS)

_Text = Annotated[str | None, Field(default=None, max_length=255)]
_Password = Annotated[
    str | None,
    Field(
        default=None,
        min_length=user_service.MIN_PASSWORD_LENGTH,
        max_length=user_service.MAX_PASSWORD_LENGTH,
        description="Stored as an argon2id hash, never returned; null removes it",
    ),
]


class UserFields(StrictModel):
    password: _Password = None
    email: Annotated[
        str | None, Field(default=None, max_length=320, pattern=r"^[^@\s]+@[^@\s]+$")
    ] = None
    external_id: _Text = None
    user_uuid: _Text = Field(default=None, description="Global user id")

    def to_values(self) -> user_service.UserValues:
        named = self.model_fields_set
        fields: dict[str, Any] = {
            name: getattr(self, name)
            for name in ("email", "external_id", "user_uuid")
            if name in named
        }
        password = (self.password or "") if "password" in named else None
        return user_service.UserValues(fields, password)


class UserCreate(UserFields):
    name: str = Field(min_length=1, max_length=255, description="The user name (sign-in name)")


class UserOut(BaseModel):
    name: str
    has_password: bool
    email: str | None
    external_id: str | None
    user_uuid: str | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, user: AppUser) -> UserOut:
        return cls(
            name=user.name,
            has_password=user.has_password,
            email=user.email,
            external_id=user.external_id,
            user_uuid=user.user_uuid,
            created_at=user.created_at,
            updated_at=user.updated_at,
        )


class UserList(BaseModel):
    items: list[UserOut]
    next_cursor: str | None


class TokenCreate(StrictModel):
    ttl_s: int | None = Field(
        default=None, ge=1, description="Lifetime in seconds; absent: until revoked"
    )


class TokenOut(BaseModel):
    id: str
    created_at: datetime
    expires_at: datetime | None

    @classmethod
    def of(cls, token: UserToken) -> TokenOut:
        return cls(id=token.id, created_at=token.created_at, expires_at=token.expires_at)


class TokenCreated(TokenOut):
    token: str = Field(description="Shown this once; only its hash is stored.")


class TokenList(BaseModel):
    items: list[TokenOut]


class SecretCreated(BaseModel):
    secret: str = Field(description="Shown this once; stored encrypted.")
    algorithm: str = "HS256"
    required_claims: list[str] = ["app", "sub", "exp"]


# Managing users includes minting their tokens, which is acting as them: app_admin.
AdminScope = Annotated[AppScope, Depends(app_scope(Role.APP_ADMIN), scope="function")]
AdminReadScope = Annotated[
    AppScope, Depends(app_scope(Role.APP_ADMIN, readonly=True), scope="function")
]


@router.post("/apps/{app}/users", status_code=201, response_model=UserOut, responses=errors(409))
async def create_user(body: UserCreate, scope: AdminScope) -> UserOut:
    return UserOut.of(
        await user_service.create_user(
            scope.uow, scope.app_id, body.name, body.to_values(), scope.now
        )
    )


@router.get("/apps/{app}/users", response_model=UserList)
async def list_users(scope: AdminReadScope, page: PageDep) -> UserList:
    found = await scope.uow.users.list_page(scope.app_id, after=page.after, limit=page.limit)
    return UserList(
        items=[UserOut.of(u) for u in found],
        next_cursor=next_cursor([u.name for u in found], page.limit),
    )


@router.get("/apps/{app}/users/{user}", response_model=UserOut)
async def get_user(user: str, scope: AdminReadScope) -> UserOut:
    return UserOut.of(await user_service.get_user(scope.uow, scope.app_id, user))


@router.put(
    "/apps/{app}/users/{user}",
    response_model=UserOut,
    responses={201: {"model": UserOut, "description": "Created the user"}},
)
async def put_user(user: str, body: UserFields, scope: AdminScope) -> Response:
    """Create the user, or change the fields named (200)."""
    found, created = await user_service.put_user(
        scope.uow, scope.app_id, user, body.to_values(), scope.now
    )
    return Response(
        UserOut.of(found).model_dump_json(),
        status_code=201 if created else 200,
        media_type="application/json",
    )


@router.patch("/apps/{app}/users/{user}", response_model=UserOut)
async def patch_user(user: str, body: UserFields, scope: AdminScope) -> UserOut:
    return UserOut.of(
        await user_service.update_user(scope.uow, scope.app_id, user, body.to_values(), scope.now)
    )


@router.delete("/apps/{app}/users/{user}", status_code=204, response_class=Response)
async def delete_user(user: str, scope: AdminScope, runtime: RuntimeDep) -> Response:
    """Delete the user and revoke its tokens; its registrations stay."""
    hashes = await user_service.delete_user(scope.uow, scope.app_id, user)
    runtime.users.forget(hashes)
    return Response(status_code=204)


@router.post("/apps/{app}/users/{user}/tokens", status_code=201, response_model=TokenCreated)
async def issue_token(
    user: str, scope: AdminScope, body: TokenCreate | None = None
) -> TokenCreated:
    """A token the user's device signs in with (Authorization: Bearer); shown once."""
    ttl = timedelta(seconds=body.ttl_s) if body is not None and body.ttl_s else None
    issued = await user_service.issue_user_token(scope.uow, scope.app_id, user, scope.now, ttl)
    record = issued.record
    return TokenCreated(
        id=record.id, created_at=record.created_at, expires_at=record.expires_at, token=issued.token
    )


@router.get("/apps/{app}/users/{user}/tokens", response_model=TokenList)
async def list_tokens(user: str, scope: AdminReadScope) -> TokenList:
    found = await user_service.list_user_tokens(scope.uow, scope.app_id, user)
    return TokenList(items=[TokenOut.of(t) for t in found])


@router.delete(
    "/apps/{app}/users/{user}/tokens/{token_id}", status_code=204, response_class=Response
)
async def revoke_token(
    user: str, token_id: str, scope: AdminScope, runtime: RuntimeDep
) -> Response:
    token_hash = await user_service.revoke_user_token(scope.uow, scope.app_id, user, token_id)
    runtime.users.forget([token_hash])
    return Response(status_code=204)


@router.post("/apps/{app}/user-token-secret", status_code=201, response_model=SecretCreated)
async def rotate_secret(scope: AdminScope, runtime: RuntimeDep) -> SecretCreated:
    """A new secret for the user JWTs your back end signs (HS256; claims app, sub, exp).

    JWTs signed with a previous secret stop working at once.
    """
    secret = await user_service.rotate_user_token_secret(
        scope.uow, runtime.vault, scope.app_id, scope.now
    )
    return SecretCreated(secret=secret)


@router.delete("/apps/{app}/user-token-secret", status_code=204, response_class=Response)
async def delete_secret(scope: AdminScope) -> Response:
    """Stop accepting user JWTs for this app."""
    await user_service.delete_user_token_secret(scope.uow, scope.app_id, scope.now)
    return Response(status_code=204)
