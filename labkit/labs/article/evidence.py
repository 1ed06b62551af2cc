"""What a run of the article's code reports: exceptions and warnings, exactly as raised."""

from __future__ import annotations

import re
import traceback
import warnings
from dataclasses import dataclass, field

from labkit.messages import _


def short_path(filename: str) -> str:
    """``asyncpg/pool.py``, ``asyncio/tasks.py``, ``labkit/...``: not where they are installed."""
    for installed in (r"^.*site-packages/", r"^.*/lib/python\d+\.\d+/", r"^.*/(?=labkit/)"):
        shorter = re.sub(installed, "", filename, count=1)
        if shorter != filename:
            return shorter
    return filename


@dataclass(frozen=True)
class Raised:
    """An exception exactly as it was raised: its class (with module) and its message."""

    kind: str  # e.g. "NameError", "tortoise.exceptions.IntegrityError"
    message: str
    exception: BaseException | None = field(default=None, repr=False, compare=False)

    @classmethod
    def of(cls, exc: BaseException) -> Raised:
        """Describe ``exc``; builtins go without their module, as Python prints them."""
        kind = type(exc)
        module = "" if kind.__module__ == "builtins" else f"{kind.__module__}."
        return cls(f"{module}{kind.__qualname__}", str(exc), exc)

    @property
    def origin(self) -> str:
        """Where it was raised, "file:line in function" (the traceback's innermost frame)."""
        if self.exception is None or self.exception.__traceback__ is None:
            return ""
        frame = traceback.extract_tb(self.exception.__traceback__)[-1]
        return f"{short_path(frame.filename)}:{frame.lineno} in {frame.name}"

    def __str__(self) -> str:
        if self.message:
            return f"{self.kind}: {self.message}"
        return _("{kind} (empty message)").format(kind=self.kind)


def raised_or_none(exc: BaseException | None) -> Raised | None:
    """:meth:`Raised.of`, passing None through."""
    return None if exc is None else Raised.of(exc)


@dataclass(frozen=True)
class Warned:
    """A warning as Python emitted it: its category, its text, and the line it blames."""

    category: str
    message: str
    where: str  # "file:line" the warning points at

    @classmethod
    def of(cls, record: warnings.WarningMessage) -> Warned:
        """Describe one warning caught with ``warnings.catch_warnings(record=True)``."""
        where = f"{short_path(record.filename)}:{record.lineno}"
        return cls(record.category.__name__, str(record.message), where)

    @property
    def first_line(self) -> str:
        """The message's first non-blank line (FastAPI's deprecation text spans several)."""
        return next((line.strip() for line in self.message.splitlines() if line.strip()), "")
