"""The article's ``models`` module, which it imports from but never shows.

Its route does ``from models import User_Pydantic, UserIn_Pydantic, Users``; this
module is that ``models``. ``Users`` has its own table, so the example app's
``users`` table is left alone.
"""

from tortoise import fields
from tortoise.contrib.pydantic import pydantic_model_creator
from tortoise.models import Model


class Users(Model):
    """The article's ``Users`` model: an email that must be unique, and a name."""

    id = fields.IntField(primary_key=True)
    email = fields.CharField(max_length=254, unique=True)
    name = fields.CharField(max_length=100)

    class Meta:
        table = "article_users"


# The article's names, made the way Tortoise's FastAPI tutorial makes them.
User_Pydantic = pydantic_model_creator(Users, name="User")
UserIn_Pydantic = pydantic_model_creator(Users, name="UserIn", exclude_readonly=True)

# Tortoise finds models by scanning a module; this pins the list to the one above.
__models__ = [Users]
