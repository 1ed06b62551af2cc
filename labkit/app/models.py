"""The example app's one table, and the limits of its columns."""

from tortoise import fields
from tortoise.models import Model

# The request schemas check these same limits, so bad input is a 422, never a
# database error. An id is a PostgreSQL ``integer`` (Tortoise's IntField): a
# larger one cannot exist, and asyncpg refuses to even send it.
ID_MAX = 2**31 - 1
EMAIL_MAX_LENGTH = 254
NAME_MAX_LENGTH = 100


class User(Model):
    id = fields.IntField(primary_key=True)
    email = fields.CharField(max_length=EMAIL_MAX_LENGTH, unique=True)
    name = fields.CharField(max_length=NAME_MAX_LENGTH)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "users"
