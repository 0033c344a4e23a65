"""API tables: the people who log in to the hub and the bearer tokens they (or integrations) hold.

Tokens are stored as SHA-256 digests only; the secret is shown once, when it is issued.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Boolean, Enum, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from hub.db import Base, UtcDateTime


class UserRole(StrEnum):
    """What a user may do: managers run the registry, accountants bill, maintainers fix machines."""

    MANAGER = "manager"
    ACCOUNTANT = "accountant"
    MAINTAINER = "maintainer"
    MEMBER = "member"


class TokenKind(StrEnum):
    LOGIN = "login"
    API = "api"


def _values(enum: type[StrEnum]) -> list[str]:
    return [member.value for member in enum]


def _enum(enum: type[StrEnum], name: str) -> Enum:
    # VARCHAR like the registry's enums: a new role needs no ALTER TYPE migration.
    return Enum(enum, name=name, native_enum=False, length=32, values_callable=_values)


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[UserRole] = mapped_column(_enum(UserRole, "user_role"))
    # Set for member users (who read only their own usage); optional for staff.
    member_id: Mapped[int | None] = mapped_column(ForeignKey("members.id"), index=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class AuthToken(Base):
    """A bearer token: a login session of a user, or a named API token for an integration."""

    __tablename__ = "auth_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[TokenKind] = mapped_column(_enum(TokenKind, "token_kind"))
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # The user who logged in, or the manager who issued the API token.
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    # API tokens act with this role; login tokens follow their user's current role.
    role: Mapped[UserRole | None] = mapped_column(_enum(UserRole, "user_role"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime, index=True)
