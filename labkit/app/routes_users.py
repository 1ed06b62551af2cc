"""``/users``: the article's registration example, done right."""

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, status
from tortoise.exceptions import IntegrityError

from labkit.app.http_errors import (
    BAD_BODY_RESPONSES,
    CONFLICT_RESPONSE,
    NOT_FOUND_RESPONSE,
    UNAVAILABLE_RESPONSE,
    require_json,
)
from labkit.app.models import ID_MAX, User
from labkit.app.schemas import UserIn, UserOut

router = APIRouter(prefix="/users", tags=["users"], responses=UNAVAILABLE_RESPONSE)

# The id column is a PostgreSQL integer: outside 1..ID_MAX no user can exist, and a
# larger number would fail in asyncpg (int32 overflow) instead of answering 404.
UserId = Annotated[int, Path(ge=1, le=ID_MAX, description="the user's id")]


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=UserOut,
    dependencies=[Depends(require_json)],
    responses={**CONFLICT_RESPONSE, **BAD_BODY_RESPONSES},
)
async def create_user(user: UserIn) -> User:
    try:
        return await User.create(**user.model_dump())
    except IntegrityError as exc:  # the unique index on email, not a bare `except Exception`
        raise HTTPException(
            status.HTTP_409_CONFLICT, detail=f"a user with email {user.email!r} already exists"
        ) from exc


@router.get("/{user_id}", response_model=UserOut, responses=NOT_FOUND_RESPONSE)
async def get_user(user_id: UserId) -> User:
    user = await User.get_or_none(id=user_id)
    if user is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no user with id {user_id}")
    return user
