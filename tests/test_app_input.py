"""Bad input of every kind gets a 4xx with a JSON ``{"detail": ...}``, and loses no stored row.

Each class of bad input has its own test: wrong types, values too large for the
columns, text that is not valid Unicode, NUL characters, bodies that are not
JSON, wrong content types, and lab parameters out of bounds. Bodies are sent as
raw bytes, so they arrive exactly as written here (no client re-encodes them).
"""

from __future__ import annotations

import json
import uuid

import httpx
import pytest
from conftest import fetch

from labkit.app.models import ID_MAX


@pytest.fixture(scope="module")
def app(database):
    # Module-scoped, so the many small cases below share one app; start_app is per test.
    from labkit.infra.runner import start_app

    app = start_app(database=database, maxsize=3)
    yield app
    app.stop()


@pytest.fixture
def stored(app) -> list:
    """A user stored before the bad request, and the whole users table at that moment."""
    email = f"stored-{uuid.uuid4().hex}@example.org"
    httpx.post(f"{app.url}/users", json={"email": email, "name": "Stored"}).raise_for_status()
    return users_table(app)


def users_table(app) -> list:
    return fetch(app.database.dsn, "SELECT * FROM users ORDER BY id")


def send(app, method: str, path: str, body: bytes | None = None, content_type: str | None = None):
    headers = {"Content-Type": content_type} if content_type else {}
    return httpx.request(method, f"{app.url}{path}", content=body, headers=headers, timeout=10)


def post_json_text(app, text: bytes) -> httpx.Response:
    """POST /users with ``text`` as the body, byte for byte, declared as JSON."""
    return send(app, "POST", "/users", text, "application/json")


def assert_refused(response: httpx.Response, status: int, says: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    detail = response.json()["detail"]
    text = detail if isinstance(detail, str) else " ".join(error["msg"] for error in detail)
    assert says in text, f"{says!r} not in {text!r}"


def assert_intact(app, before: list) -> None:
    assert users_table(app) == before, "a bad request changed the users table"


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (b'{"email": 5, "name": "Ada"}', "valid string"),
        (b'{"email": "ada@example.org", "name": true}', "valid string"),
        (b'{"email": ["ada@example.org"], "name": "Ada"}', "valid string"),
        (b'{"email": NaN, "name": Infinity}', "valid string"),  # Python's json accepts these
        (b'[{"email": "ada@example.org", "name": "Ada"}]', "valid dictionary"),
        (b'"ada@example.org"', "valid dictionary"),
        (b"null", "valid dictionary"),
        (b'{"email": "ada@example.org"}', "Field required"),
    ],
    ids=["int", "bool", "list", "nan", "array-body", "string-body", "null-body", "missing"],
)
def test_wrong_types_are_422(app, stored, body, says):
    assert_refused(post_json_text(app, body), 422, says)
    assert_intact(app, stored)


@pytest.mark.parametrize(
    ("path", "says"),
    [
        (f"/users/{ID_MAX + 1}", "less than or equal to 2147483647"),
        (f"/users/{10**30}", "less than or equal to 2147483647"),
        ("/users/0", "greater than or equal to 1"),
        ("/users/-1", "greater than or equal to 1"),
        ("/users/abc", "valid integer"),
        ("/users/1.5", "valid integer"),
    ],
)
def test_user_ids_outside_the_integer_column_are_422(app, stored, path, says):
    assert_refused(send(app, "GET", path), 422, says)
    assert_intact(app, stored)


def test_the_largest_integer_id_is_a_plain_404(app):
    assert_refused(send(app, "GET", f"/users/{ID_MAX}"), 404, "no user")


@pytest.mark.parametrize(
    ("email", "name", "says"),
    [
        ("a@" + "x" * 260 + ".org", "Ada", "at most 254 characters"),
        ("ada@example.org", "A" * 101, "at most 100 characters"),
        ("ada@example.org", "A" * 1_000_000, "at most 100 characters"),
    ],
    ids=["email-255+", "name-101", "name-1MB"],
)
def test_strings_longer_than_their_columns_are_422(app, stored, email, name, says):
    body = json.dumps({"email": email, "name": name}).encode()
    assert_refused(post_json_text(app, body), 422, says)
    assert_intact(app, stored)


@pytest.mark.parametrize(
    "body",
    [
        b'{"email": "ada\\ud800@example.org", "name": "Ada"}',
        b'{"email": "ada@example.org", "name": "Ada \\udfff"}',
        b'{"email": "ada@example.org", "name": "\\udc00\\ud800"}',  # a pair, but in the wrong order
    ],
    ids=["high-in-email", "low-in-name", "reversed-pair"],
)
def test_lone_surrogates_are_422(app, stored, body):
    response = post_json_text(app, body)
    assert_refused(response, 422, "lone surrogate")
    echoed = response.json()["detail"][0]["input"]
    assert "\\ud" in echoed  # echoed back as a printed escape...
    echoed.encode("utf-8")  # ...so the answer is valid UTF-8 (FastAPI's own handler failed here)
    assert_intact(app, stored)


def test_a_proper_surrogate_pair_is_stored(app):
    email = f"emoji-{uuid.uuid4().hex}@example.org"
    body = b'{"email": "' + email.encode() + b'", "name": "Ada \\ud83d\\ude00"}'
    response = post_json_text(app, body)
    assert response.status_code == 201, response.text
    assert response.json()["name"] == "Ada \N{GRINNING FACE}"


@pytest.mark.parametrize(
    "body",
    [
        b'{"email": "ada\\u0000@example.org", "name": "Ada"}',
        b'{"email": "ada@example.org", "name": "Ada\\u0000"}',
        b'{"email": "ada@example.org", "name": "\\u0000"}',
    ],
    ids=["in-email", "in-name", "name-is-nul"],
)
def test_nul_characters_are_422(app, stored, body):
    assert_refused(post_json_text(app, body), 422, "NUL character")
    assert_intact(app, stored)


@pytest.mark.parametrize(
    ("body", "status", "says"),
    [
        (b"not json", 400, "not valid JSON"),
        (b'{"email": "ada@example.org", "name": ', 400, "not valid JSON"),
        (b"{'email': 'ada@example.org', 'name': 'Ada'}", 400, "not valid JSON"),
        (b'{"email": "ada\xc3(@example.org", "name": "Ada"}', 400, "parsing the body"),  # not UTF-8
        (b"[" * 100_000 + b"]" * 100_000, 400, "parsing the body"),  # too deep for the parser
        (b'{"email": ' + b"1" * 5000 + b', "name": "Ada"}', 400, "parsing the body"),
        (b'{"email": ' + b"[" * 500 + b"]" * 500 + b', "name": "Ada"}', 422, "valid string"),
        (b"", 422, "Field required"),
    ],
    ids=[
        "text",
        "truncated",
        "single-quotes",
        "bad-utf8",
        "too-deep",
        "5000-digits",
        "deep-but-parsed",
        "empty",
    ],
)
def test_bodies_that_are_not_json_are_400(app, stored, body, status, says):
    assert_refused(post_json_text(app, body), status, says)
    assert_intact(app, stored)


@pytest.mark.parametrize(
    "content_type",
    [
        None,
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data",
        "application/xml",
    ],
)
def test_bodies_not_sent_as_json_are_415(app, stored, content_type):
    body = json.dumps({"email": f"ct-{uuid.uuid4().hex}@example.org", "name": "Ada"}).encode()
    assert_refused(send(app, "POST", "/users", body, content_type), 415, "Content-Type")
    assert_intact(app, stored)


def test_json_with_a_charset_or_json_suffix_is_accepted(app):
    for content_type in ("application/json; charset=utf-8", "application/merge-patch+json"):
        body = json.dumps({"email": f"cs-{uuid.uuid4().hex}@example.org", "name": "Ada"})
        response = send(app, "POST", "/users", body.encode(), content_type)
        assert response.status_code == 201, (content_type, response.text)


@pytest.mark.parametrize(
    ("path", "says"),
    [
        ("/lab/hold?ms=-1", "greater than or equal to 0"),
        ("/lab/hold?ms=60001", "less than or equal to 60000"),
        ("/lab/hold?ms=36000000", "less than or equal to 60000"),  # a ten-hour hold
        (f"/lab/hold?ms={10**30}", "less than or equal to 60000"),
        ("/lab/hold?ms=abc", "valid integer"),
        ("/lab/hold", "Field required"),
        ("/lab/hold-in-transaction?ms=-5", "greater than or equal to 0"),
        ("/lab/hold-in-transaction?ms=600000", "less than or equal to 60000"),
        ("/lab/cpu-work?rows=0", "greater than or equal to 1"),
        ("/lab/cpu-work?rows=50000000", "less than or equal to 5000000"),
        ("/exercise/run?fail=maybe", "valid boolean"),
    ],
)
def test_lab_parameters_out_of_bounds_are_422(app, stored, path, says):
    assert_refused(send(app, "GET", path), 422, says)
    assert_intact(app, stored)


def test_the_app_still_serves_after_all_that(app):
    email = f"after-{uuid.uuid4().hex}@example.org"
    created = httpx.post(f"{app.url}/users", json={"email": email, "name": "After"})
    assert created.status_code == 201
    assert httpx.get(f"{app.url}/users/{created.json()['id']}").json()["email"] == email
