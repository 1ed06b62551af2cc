"""Request and response bodies (pydantic v2: ``model_dump()``, not v1's ``.dict()``)."""

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class UserIn(BaseModel):
    email: str = Field(
        pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", max_length=254, examples=["ada@example.org"]
    )
    name: str = Field(min_length=1, max_length=100, examples=["Ada"])


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    email: str
    name: str
    created_at: datetime
