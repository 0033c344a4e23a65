"""Users and bearer tokens: create users, check passwords, issue, resolve and revoke tokens.

Passwords are hashed with argon2; tokens are random, so a SHA-256 digest is enough to store them.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hub.api.errors import Unauthenticated
from hub.api.models import AuthToken, TokenKind, User, UserRole
from hub.errors import Conflict, Invalid, NotFound
from hub.registry.models import Member

LOGIN_LIFETIME = timedelta(hours=12)
TOKEN_PREFIX = "mch_"  # noqa: S105  (a recognisable prefix, not a secret)
HASHER = PasswordHasher()


@dataclass(frozen=True)
class Principal:
    """Who is calling, and with which role."""

    user_id: int
    username: str
    role: UserRole
    member_id: int | None
    token_id: int


@dataclass(frozen=True)
class Issued:
    """A freshly issued token: the secret exists only here, the database keeps its digest."""

    row: AuthToken
    secret: str


def normalise_username(username: str) -> str:
    return username.strip().lower()


def create_user(
    session: Session,
    *,
    username: str,
    password: str,
    role: UserRole | str,
    member_id: int | None = None,
    now: datetime | None = None,
    hasher: PasswordHasher = HASHER,
) -> User:
    """A user who can log in; a member user must be linked to a registry member.

    The caller commits; `machinerie hub add-user` uses this for the first manager.
    """
    try:
        kind = UserRole(role)
    except ValueError as exc:
        raise Invalid(f"unknown role {role!r}") from exc
    if kind is UserRole.MEMBER and member_id is None:
        raise Invalid("a member user must be linked to a registry member")
    if member_id is not None and session.get(Member, member_id) is None:
        raise NotFound(f"no member {member_id!r}")
    name = normalise_username(username)
    user = User(
        username=name,
        password_hash=hasher.hash(password),
        role=kind,
        member_id=member_id,
        active=True,
        created_at=now if now is not None else datetime.now(UTC),
    )
    try:
        with session.begin_nested():
            session.add(user)
    except IntegrityError as exc:
        raise Conflict(f"user {name!r} exists") from exc
    return user


def authenticate(
    session: Session, *, username: str, password: str, hasher: PasswordHasher = HASHER
) -> User | None:
    """The active user with this password, or None (unknown user or wrong password)."""
    user = session.scalar(select(User).where(User.username == normalise_username(username)))
    if user is None or not user.active:
        # Verify anyway, so an unknown username takes as long as a wrong password.
        _verify(hasher, _dummy_hash(hasher), password)
        return None
    if not _verify(hasher, user.password_hash, password):
        return None
    if hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hasher.hash(password)
    return user


@cache
def _dummy_hash(hasher: PasswordHasher) -> str:
    return hasher.hash("no such user, no such password")


def _verify(hasher: PasswordHasher, stored: str, password: str) -> bool:
    try:
        return hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


def issue_login_token(session: Session, *, user: User, now: datetime) -> Issued:
    # Expired login tokens are useless; dropping them here keeps the table small.
    session.execute(
        delete(AuthToken).where(AuthToken.kind == TokenKind.LOGIN, AuthToken.expires_at < now)
    )
    return _issue(
        session,
        kind=TokenKind.LOGIN,
        name="login",
        user_id=user.id,
        role=None,
        expires_at=now + LOGIN_LIFETIME,
        now=now,
    )


def issue_api_token(
    session: Session,
    *,
    name: str,
    role: UserRole,
    issued_by: int,
    expires_at: datetime | None,
    now: datetime,
) -> Issued:
    """A named token for an integration (an accounting export, a dashboard), acting as `role`."""
    if role is UserRole.MEMBER:
        raise Invalid("API tokens are for integrations: manager, accountant or maintainer")
    if expires_at is not None and expires_at <= now:
        raise Invalid("the token would already be expired")
    return _issue(
        session,
        kind=TokenKind.API,
        name=name,
        user_id=issued_by,
        role=role,
        expires_at=expires_at,
        now=now,
    )


def _issue(
    session: Session,
    *,
    kind: TokenKind,
    name: str,
    user_id: int,
    role: UserRole | None,
    expires_at: datetime | None,
    now: datetime,
) -> Issued:
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = AuthToken(
        kind=kind,
        name=name,
        token_hash=digest(secret),
        user_id=user_id,
        role=role,
        created_at=now,
        expires_at=expires_at,
    )
    session.add(row)
    session.flush()
    return Issued(row=row, secret=secret)


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def resolve_token(session: Session, *, secret: str, now: datetime) -> Principal:
    """The principal behind a bearer token; Unauthenticated when unknown, expired or disabled."""
    found = session.execute(
        select(AuthToken, User)
        .join(User, AuthToken.user_id == User.id)
        .where(AuthToken.token_hash == digest(secret))
    ).one_or_none()
    if found is None:
        raise Unauthenticated("unknown bearer token")
    token, user = found
    if token.expires_at is not None and token.expires_at <= now:
        raise Unauthenticated("the bearer token has expired")
    if not user.active:
        raise Unauthenticated("the token's user is disabled")
    return Principal(
        user_id=user.id,
        username=user.username,
        role=token.role or user.role,
        member_id=user.member_id,
        token_id=token.id,
    )


def api_tokens(session: Session) -> list[AuthToken]:
    return list(
        session.scalars(
            select(AuthToken).where(AuthToken.kind == TokenKind.API).order_by(AuthToken.id)
        )
    )


def revoke_token(session: Session, *, token_id: int) -> None:
    token = session.get(AuthToken, token_id)
    if token is None:
        raise NotFound(f"no token {token_id}")
    session.delete(token)
