"""Request and response bodies of the /auth endpoints."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from duespark.kit.fields import Email, Name, OptionalName, TimeZoneName, refuse_null

Password = Annotated[str, Field(min_length=1, max_length=1024)]
RefreshTokenText = Annotated[str, Field(min_length=1, max_length=200)]


class UserRegister(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: Email
    password: Password
    name: Name
    business_name: OptionalName = ""
    time_zone: TimeZoneName = "UTC"


class UserUpdate(BaseModel):
    """Only profile fields: nothing here can change who the user is or what they may do."""

    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    business_name: OptionalName | None = None
    time_zone: TimeZoneName | None = None

    _no_nulls = field_validator("name", "business_name", "time_zone", mode="before")(refuse_null)


class UserRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    email: str
    name: str
    business_name: str
    time_zone: str
    created_at: datetime


class TokenPair(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(description="Seconds until the access token expires.")
    refresh_token: str


class RefreshRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    refresh_token: RefreshTokenText


class PasswordChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    current_password: Password
    new_password: Password
