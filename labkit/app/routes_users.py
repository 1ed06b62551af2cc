"""``/users``: the article's registration example, done right."""

from fastapi import APIRouter, HTTPException, status
from tortoise.exceptions import IntegrityError

from labkit.app.models import User
from labkit.app.schemas import UserIn, UserOut

router = APIRouter(prefix="/users", tags=["users"])


@router.post("", status_code=status.HTTP_201_CREATED, response_model=UserOut)
async def create_user(user: UserIn) -> User:
    try:
        return await User.create(**user.model_dump())
    except IntegrityError as exc:  # the unique index on email, not a bare `except Exception`
        raise HTTPException(
            status.HTTP_409_CONFLICT, detail=f"a user with email {user.email!r} already exists"
        ) from exc


@router.get("/{user_id}", response_model=UserOut)
async def get_user(user_id: int) -> User:
    user = await User.get_or_none(id=user_id)
    if user is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no user with id {user_id}")
    return user
