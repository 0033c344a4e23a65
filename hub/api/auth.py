"""Authentication routes: password login, the caller's identity, users, and API tokens.

Login accepts a JSON body or an OAuth2-style form; both give the same short-lived bearer token.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from urllib.parse import parse_qs

from fastapi import APIRouter, Depends, Path, Request, status
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from hub.api import accounts
from hub.api.deps import (
    CurrentUser,
    FailedLoginsDep,
    HasherDep,
    Manager,
    MetricsDep,
    Now,
    SessionDep,
)
from hub.api.errors import TooManyAttempts, Unauthenticated, responses
from hub.api.models import AuthToken, User, UserRole
from hub.api.types import DbId, Moment, Password, ShortText, Username
from hub.errors import Invalid

router = APIRouter(prefix="/auth", tags=["auth"])
# Two fields of at most 200 characters each, with room for encoding and OAuth2's extra fields.
MAX_LOGIN_BODY = 4096


class LoginRequest(BaseModel):
    # No pattern on login input: a typo should be a plain 401, not a hint about the format.
    username: str = Field(min_length=1, max_length=200, pattern=r"^[^\x00]*$")
    password: str = Field(min_length=1, max_length=200, pattern=r"^[^\x00]*$")


class TokenPublic(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105  (OAuth2 token type)
    expires_at: datetime | None


class UserCreate(BaseModel):
    username: Username
    password: Password
    role: UserRole
    member_id: DbId | None = None


class UserPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    username: str
    role: UserRole
    member_id: int | None
    active: bool


class Me(BaseModel):
    user_id: int
    username: str
    role: UserRole
    member_id: int | None


class ApiTokenCreate(BaseModel):
    name: ShortText
    role: Literal[UserRole.MANAGER, UserRole.ACCOUNTANT, UserRole.MAINTAINER]
    expires_at: Moment | None = None


class ApiTokenPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    role: UserRole | None
    created_at: datetime
    expires_at: datetime | None


class ApiTokenIssued(ApiTokenPublic):
    token: str = Field(description="The secret; shown only in this response")


_LOGIN_BODY = LoginRequest.model_json_schema()


async def login_request(request: Request) -> LoginRequest:
    """The credentials, from a form (OAuth2 password flow) or a JSON body."""
    raw = await request.body()
    if len(raw) > MAX_LOGIN_BODY:
        raise Invalid(f"a login body is at most {MAX_LOGIN_BODY} bytes")
    content_type = request.headers.get("content-type", "")
    try:
        if content_type.startswith("application/x-www-form-urlencoded"):
            return LoginRequest.model_validate(_form(raw))
        return LoginRequest.model_validate_json(raw)
    except ValidationError as exc:
        # Without the input: raw bytes that are not UTF-8 could not be echoed back as JSON.
        raise RequestValidationError(exc.errors(include_url=False, include_input=False)) from exc


def _form(raw: bytes) -> dict[str, Any]:
    fields = parse_qs(raw.decode("utf-8", errors="replace"))
    return {name: values[0] for name, values in fields.items() if name in {"username", "password"}}


@router.post(
    "/login",
    summary="Log in with a username and password",
    response_model=TokenPublic,
    responses=responses(401, 422, 429),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": _LOGIN_BODY},
                "application/x-www-form-urlencoded": {"schema": _LOGIN_BODY},
            },
        }
    },
)
def login(
    *,
    credentials: Annotated[LoginRequest, Depends(login_request)],
    db: SessionDep,
    now: Now,
    failed: FailedLoginsDep,
    metrics: MetricsDep,
    hasher: HasherDep,
) -> TokenPublic:
    name = accounts.normalise_username(credentials.username)
    wait = failed.retry_after(name)
    if wait:
        metrics.inc("api_logins", outcome="limited")
        raise TooManyAttempts(f"too many failed logins for {name!r}", retry_after=wait)
    user = accounts.authenticate(db, username=name, password=credentials.password, hasher=hasher)
    if user is None:
        failed.fail(name)
        metrics.inc("api_logins", outcome="failed")
        raise Unauthenticated("wrong username or password")
    failed.succeed(name)
    issued = accounts.issue_login_token(db, user=user, now=now)
    db.commit()
    metrics.inc("api_logins", outcome="ok")
    return TokenPublic(access_token=issued.secret, expires_at=issued.row.expires_at)


@router.get(
    "/me", summary="Who the bearer token belongs to", response_model=Me, responses=responses(401)
)
def me(principal: CurrentUser) -> Me:
    return Me(
        user_id=principal.user_id,
        username=principal.username,
        role=principal.role,
        member_id=principal.member_id,
    )


@router.post(
    "/users",
    summary="Create a user (manager only)",
    status_code=status.HTTP_201_CREATED,
    response_model=UserPublic,
    responses=responses(401, 403, 404, 409, 422),
)
def create_user(
    body: UserCreate, db: SessionDep, now: Now, hasher: HasherDep, _manager: Manager
) -> User:
    user = accounts.create_user(
        db,
        hasher=hasher,
        username=body.username,
        password=body.password,
        role=body.role,
        member_id=body.member_id,
        now=now,
    )
    db.commit()
    return user


@router.get(
    "/tokens",
    summary="List API tokens (without their secrets)",
    response_model=list[ApiTokenPublic],
    responses=responses(401, 403),
)
def list_tokens(db: SessionDep, _manager: Manager) -> list[AuthToken]:
    return accounts.api_tokens(db)


@router.post(
    "/tokens",
    summary="Issue an API token for an integration; the secret is shown once",
    status_code=status.HTTP_201_CREATED,
    response_model=ApiTokenIssued,
    responses=responses(401, 403, 422),
)
def create_token(
    body: ApiTokenCreate, db: SessionDep, now: Now, manager: Manager
) -> ApiTokenIssued:
    issued = accounts.issue_api_token(
        db,
        name=body.name,
        role=UserRole(body.role),
        issued_by=manager.user_id,
        expires_at=body.expires_at,
        now=now,
    )
    db.commit()
    public = ApiTokenPublic.model_validate(issued.row)
    return ApiTokenIssued(**public.model_dump(), token=issued.secret)


@router.delete(
    "/tokens/{token_id}",
    summary="Revoke a token",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=responses(401, 403, 404, 422),
)
def delete_token(token_id: Annotated[DbId, Path()], db: SessionDep, _manager: Manager) -> None:
    accounts.revoke_token(db, token_id=token_id)
    db.commit()
