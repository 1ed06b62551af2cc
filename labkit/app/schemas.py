"""Request and response bodies (pydantic v2: ``model_dump()``, not v1's ``.dict()``).

A request body is refused (422) unless the ``users`` table can store it as it is:
lengths within the columns', valid Unicode, and no NUL character, which
PostgreSQL text cannot hold.
"""

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from labkit.app.models import EMAIL_MAX_LENGTH, ID_MAX, NAME_MAX_LENGTH


def storable_text(value: object) -> object:
    """Refuse a string PostgreSQL cannot store, saying why (runs before the other checks).

    JSON can spell a lone surrogate (``"\\ud800"``), which no UTF-8 text can hold,
    and a NUL (``"\\u0000"``), which PostgreSQL text refuses. Pydantic would refuse
    the first too, but with a vaguer message, and would let the second through.
    """
    if not isinstance(value, str):
        return value  # not text at all: pydantic's str check says so
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(
            f"is not valid Unicode: lone surrogate {value[exc.start]!a} at position "
            f"{exc.start} (a \\ud800-\\udfff escape must be one of a pair)"
        ) from None
    if "\x00" in value:
        raise ValueError(
            "contains a NUL character (\\u0000), which PostgreSQL text cannot store; remove it"
        )
    return value


# Text PostgreSQL can store. The patterns below also leave NUL out, so the OpenAPI
# schema tells clients; storable_text runs first and gives the clearer message.
PostgresText = Annotated[str, BeforeValidator(storable_text)]


class UserIn(BaseModel):
    email: PostgresText = Field(
        pattern=r"^[^@\s\x00]+@[^@\s\x00]+\.[^@\s\x00]+$",
        max_length=EMAIL_MAX_LENGTH,
        examples=["ada@example.org"],
    )
    name: PostgresText = Field(
        min_length=1, max_length=NAME_MAX_LENGTH, pattern=r"^[^\x00]+$", examples=["Ada"]
    )


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int = Field(ge=1, le=ID_MAX)
    email: str
    name: str
    created_at: datetime
