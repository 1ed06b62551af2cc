"""The app's error answers: their bodies, their OpenAPI entries, and bad input turned into 4xx.

Every error the app answers is JSON ``{"detail": ...}``. The ``*_RESPONSE`` dicts
go into a route's ``responses=``, so the OpenAPI schema lists every status a
client can meet, with its body (and, for 503, its ``Retry-After`` header).
FastAPI lists the 422 itself, for every route that takes parameters or a body.

Bad input never reaches the database: the request schemas refuse what the
columns cannot store (see ``schemas.py``), and :func:`invalid_request` answers
for what FastAPI could not even parse.
"""

from __future__ import annotations

import math
from typing import Any

from fastapi import Request, status
from fastapi.exceptions import HTTPException, RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

# How deep an echoed bad value may nest before it is cut short (see json_safe).
MAX_ECHO_DEPTH = 10


class ErrorMessage(BaseModel):
    """The body of every error the app answers itself."""

    detail: str = Field(examples=["no user with id 42"])


def _error(description: str, **extra: Any) -> dict[str, Any]:
    return {"model": ErrorMessage, "description": description, **extra}


NOT_FOUND_RESPONSE = {status.HTTP_404_NOT_FOUND: _error("No such user.")}
CONFLICT_RESPONSE = {status.HTTP_409_CONFLICT: _error("A user with this email already exists.")}
BAD_BODY_RESPONSES = {
    status.HTTP_400_BAD_REQUEST: _error("The body could not be parsed as JSON."),
    status.HTTP_415_UNSUPPORTED_MEDIA_TYPE: _error(
        "The body is not sent as JSON (Content-Type: application/json)."
    ),
}
UNAVAILABLE_RESPONSE = {
    status.HTTP_503_SERVICE_UNAVAILABLE: _error(
        "Pool exhausted or database unavailable: try again after Retry-After seconds.",
        headers={
            "Retry-After": {
                "description": "Seconds to wait before trying again.",
                "required": True,
                "schema": {"type": "integer", "minimum": 1},
            }
        },
    )
}


def require_json(request: Request) -> None:
    """A route dependency: refuse a body that is not declared as JSON, with 415.

    FastAPI reads a body as JSON only when its Content-Type says so; any other
    body would reach validation as raw bytes and fail with a puzzling 422.
    """
    content_type = request.headers.get("content-type", "")
    media_type = content_type.partition(";")[0].strip().lower()
    if media_type != "application/json" and not media_type.endswith("+json"):
        got = f"Content-Type {content_type!r}" if content_type else "no Content-Type"
        raise HTTPException(
            status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
            detail=f"send the body as JSON with Content-Type: application/json (got {got})",
        )


async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
    """Answer a request FastAPI could not validate: 400 for a body that is not JSON, else 422.

    FastAPI's own handler echoes each bad value back, and fails (500) on the
    ones JSON cannot carry: a lone surrogate such as ``"\\ud800"`` has no UTF-8
    form, and NaN is not JSON. Here they are spelled out as text instead.
    """
    errors = exc.errors()
    for error in errors:
        if error["type"] == "json_invalid":
            position = error["loc"][-1]  # ("body", offset into the body)
            reason = error.get("ctx", {}).get("error", "malformed")
            return JSONResponse(
                status_code=status.HTTP_400_BAD_REQUEST,
                content={
                    "detail": f"the body is not valid JSON ({reason} at character {position}); "
                    "send a JSON object"
                },
            )
    return JSONResponse(
        status_code=status.HTTP_422_UNPROCESSABLE_CONTENT, content={"detail": json_safe(errors)}
    )


def json_safe(value: Any, depth: int = 0) -> Any:
    """``value`` as plain JSON that always encodes, whatever a client sent.

    Strings keep lone surrogates as ``\\udXXX`` escapes, raw bytes are decoded the
    same way, non-finite floats become text, and any other object (pydantic puts
    the ValueError a validator raised in ``ctx``) becomes its ``str()``. Nesting
    deeper than :data:`MAX_ECHO_DEPTH` is cut to ``"..."``: a body of a thousand
    nested lists parses, but echoing it back whole would exceed Python's
    recursion limit.
    """
    if depth > MAX_ECHO_DEPTH:
        return "..."
    if value is None or isinstance(value, (bool, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, str):
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    if isinstance(value, bytes):
        return value.decode("utf-8", "backslashreplace")
    if isinstance(value, dict):
        return {json_safe(str(k)): json_safe(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(item, depth + 1) for item in value]
    return json_safe(str(value), depth)
