"""The source article's snippets, run for real (labkit.labs.article), against real PostgreSQL.

Each test pins what the installed libraries really do with the article's code: the
exception class and message, the warning, the pool sizes, the HTTP status. The last
test checks that running the labs beside the example app leaves the app working.
"""

from __future__ import annotations

import inspect
import uuid

import httpx
import pytest
from conftest import fetch

from labkit.labs import article, client_limits, tuning


@pytest.fixture(scope="module")
def dsn(database) -> str:
    return database.dsn


# ----------------------------------------------------------------- the TORTOISE_ORM dict


def test_article_config_keeps_the_articles_keys_and_a_string_port(dsn):
    config = article.article_tortoise_config(dsn)
    credentials = config["connections"]["default"]["credentials"]
    assert config["connections"]["default"]["engine"] == "tortoise.backends.asyncpg"
    assert isinstance(credentials["port"], str)
    for key in ("minsize", "maxsize", "max_inactive_connection_lifetime"):
        assert credentials[key] == article.ARTICLE_CREDENTIALS[key]
    changed = article.article_tortoise_config(dsn, drop=("minsize",), timeout=1)
    assert "minsize" not in changed["connections"]["default"]["credentials"]
    assert changed["connections"]["default"]["credentials"]["timeout"] == 1


def test_article_config_rejects_bad_input_clearly(dsn):
    with pytest.raises(ValueError, match="expected a PostgreSQL URL"):
        article.article_tortoise_config("mydb")
    with pytest.raises(ValueError, match="'min_size' is not in the article's credentials"):
        article.article_tortoise_config(dsn, drop=("min_size",))


def test_article_config_builds_the_pool_it_asks_for(dsn):
    run = article.run_article_config(dsn, workers=4)
    # minsize/maxsize reach asyncpg renamed; the lifetime passes through as is
    assert run.create_pool_kwargs["min_size"] == 3
    assert run.create_pool_kwargs["max_size"] == 20
    assert run.create_pool_kwargs["max_inactive_connection_lifetime"] == 300
    assert (run.min_size, run.max_size, run.opened) == (3, 20, 3)
    # the string port works: Tortoise makes it an int before asyncpg sees it
    assert isinstance(run.port_given, str)
    assert run.port_used == int(run.port_given) == run.create_pool_kwargs["port"]
    assert run.default_sizes == (1, 5)
    assert run.bad_lifetime.kind == "ValueError"
    assert run.bad_lifetime.message == (
        "max_inactive_connection_lifetime is expected to be greater or equal to zero"
    )
    assert run.bad_lifetime.origin.startswith("asyncpg/pool.py:")  # asyncpg's own check


def test_article_maxsize_is_judged_with_the_kits_own_rules(dsn):
    run = article.run_article_config(dsn, workers=4)
    assert run.rule_of_thumb == tuning.rule_of_thumb()
    limits = client_limits.server_limits(dsn)
    assert run.budget.max_connections == limits.max_connections
    assert run.budget.needed == 4 * 20 + limits.reserved
    fit = run.workers_that_fit
    assert fit * 20 + limits.reserved <= limits.max_connections
    assert (fit + 1) * 20 + limits.reserved > limits.max_connections


def test_timeout_bounds_connecting_not_waiting_for_a_free_connection(dsn):
    run = article.run_article_timeout(dsn, timeout_s=0.2, bound_s=1.0)
    # the full pool: still waiting long after `timeout`, until our wait_for stopped it
    assert run.full_pool_error.kind == "TimeoutError"
    assert run.full_pool_error.origin.startswith("asyncio/")  # raised by our wait_for
    assert run.full_pool_waited_s >= 0.95 * run.bound_s
    assert run.full_pool_outlived_timeout
    # the silent server: asyncpg gives up connecting after `timeout`
    assert run.silent_server_error.kind == "TimeoutError"
    assert run.silent_server_error.message == ""  # asyncpg's TimeoutError has no message
    assert 0.9 * run.timeout_s <= run.silent_server_waited_s < run.timeout_s + 2


def test_timeout_experiment_needs_room_between_timeout_and_bound(dsn):
    with pytest.raises(ValueError, match="timeout_s < bound_s"):
        article.run_article_timeout(dsn, timeout_s=1.0, bound_s=0.5)


# ----------------------------------------------------------------- POST /users


def _article_user_rows(dsn: str) -> int:
    return fetch(dsn, "SELECT count(*) FROM article_users")[0][0]


def test_users_route_as_written_as_meant_and_the_kits(dsn):
    run = article.run_article_users_route(dsn)
    # as written: it works for a new user, with pydantic v2's deprecation warning
    assert run.created.status == 200
    assert run.dict_warning.category == "PydanticDeprecatedSince20"
    assert run.dict_warning.message.startswith(
        "The `dict` method is deprecated; use `model_dump` instead."
    )
    # a duplicate: the except branch itself fails on `logger`, and the client gets 500
    assert run.duplicate.status == 500
    assert run.duplicate.raised.kind == "NameError"
    assert run.duplicate.raised.message == "name 'logger' is not defined"
    assert run.duplicate.raised.origin.startswith("<article: users route>:")
    assert run.duplicate.while_handling.kind == "tortoise.exceptions.IntegrityError"
    assert run.down.status == 500
    assert run.down.raised.message == "name 'logger' is not defined"
    assert run.down.while_handling.kind == "ConnectionRefusedError"
    # as meant: the database being down becomes the client's fault
    assert run.intended_down.status == 400
    assert run.intended_down.body == '{"detail":"User creation failed"}'
    assert len(run.intended_log) == 1
    assert run.intended_log[0].startswith("Create user failed: [Errno 111]")
    # the kit's route: 201, 409, 503 with Retry-After
    assert run.kit_created.status == 201
    assert run.kit_duplicate.status == 409
    assert "already exists" in run.kit_duplicate.body
    assert run.kit_down.status == 503
    assert run.kit_down.retry_after == "1"
    assert "database unavailable: ConnectionRefusedError" in run.kit_down.body


def test_users_route_lab_leaves_no_rows_behind(dsn):
    article.run_article_users_route(dsn)  # creates the table if this is the first run
    before = _article_user_rows(dsn)
    article.run_article_users_route(dsn)
    assert _article_user_rows(dsn) == before


# ----------------------------------------------------------------- @app.on_event


def test_on_event_is_deprecated_and_ignored_beside_a_lifespan():
    run = article.run_article_startup_hook()
    assert run.warnings, "FastAPI emitted no warning for on_event"
    assert {w.category for w in run.warnings} == {"DeprecationWarning"}
    assert run.warnings[0].where.startswith("labkit/labs/article/startup_hook.py:")  # the decorator
    assert run.warnings[-1].where.startswith("fastapi/")
    assert run.warnings[0].first_line == (
        "on_event is deprecated, use lifespan event handlers instead."
    )
    assert run.ran_alone is True
    assert run.lifespan_ran is True
    assert run.ran_beside_lifespan is False


def test_the_kit_starts_with_a_lifespan_not_on_event():
    from labkit.app import main
    from labkit.app.settings import AppSettings

    source = inspect.getsource(main)
    assert "on_event" not in source
    assert "lifespan=lifespan" in source
    app = main.create_app(AppSettings(database_url="postgresql://x:y@127.0.0.1:1/x"))
    assert app.router.on_startup == [] and app.router.on_shutdown == []
    assert app.router.lifespan_context is not None


# ----------------------------------------------------------------- the metrics snippet


def test_metrics_snippet_as_written_and_with_gauge_imported(dsn):
    run = article.run_article_metrics_snippet(dsn)
    assert run.startup_error.kind == "NameError"
    assert run.startup_error.message == "name 'Gauge' is not defined"
    assert run.startup_error.origin.endswith("in __init__")  # DatabaseMetrics(), at start-up
    # with Gauge imported: the dropped task dies on its first update, and only a log says so
    assert run.task_report == "Task exception was never retrieved"
    assert run.task_error.kind == "AttributeError"
    assert run.task_error.message == "'NoneType' object has no attribute '_size'"
    assert run.update_on_open_pool.message == "'Pool' object has no attribute '_size'"
    # the mount answers /metrics with a redirect, and serves the default registry
    status, location = run.metrics_redirect
    assert status == 307 and location.endswith("/metrics/")
    assert run.default_registry is True
    assert "db_connections_in_use" in run.series
    assert run.gauge_value == 0.0  # the task died before its first set()
    assert "python_gc_objects_collected_total" in run.series  # default registry's collectors
    # the Instrumentator was imported, never applied: no HTTP metrics
    assert run.http_series == []
    assert "http_requests_total" in run.instrumented_http_series


def test_metrics_snippet_runs_twice_in_one_process(dsn):
    article.run_article_metrics_snippet(dsn)
    again = article.run_article_metrics_snippet(dsn)  # no "Duplicated timeseries"
    assert "db_connections_in_use" in again.series


def test_a_pending_task_without_a_reference_is_collected():
    run = article.run_task_reference_demo()
    assert run.dropped_collected is True
    assert run.report == "Task was destroyed but it is pending!"
    assert run.sleeping_survived is True  # asyncio.sleep's timer holds the article's loop
    assert run.kept_survived is True
    assert "weak references to tasks" in run.python_says


# ----------------------------------------------------------------- in transaction()


def test_in_transaction_typo_is_a_syntax_error():
    run = article.compile_article_transaction()
    assert run.article_error.kind == "SyntaxError"
    assert run.article_error.exception.msg == "invalid syntax"
    assert (run.line, run.column) == (1, 12)  # at "in"
    assert run.fixed_compiles is True
    assert run.committed is None and run.rolled_back is None  # compiled, not run


def test_in_transaction_commits_and_rolls_back(dsn):
    run = article.run_article_transaction(dsn)
    assert run.article_error.kind == "SyntaxError"
    assert run.committed is True
    assert run.rolled_back is True
    assert run.all_released is True


# ----------------------------------------------------------------- 300-600 s idle lifetime


def test_idle_lifetime_advice_against_the_libraries_and_the_path(dsn):
    advice = article.evaluate_idle_lifetime_advice(dsn, {"proxy": 240, "firewall": 0})
    assert advice.asyncpg_default_s == 300.0
    assert advice.tortoise_names_it is False
    assert advice.passed_when_unset is False
    assert advice.unset_means_s == 300.0 == advice.article_value_s
    server_ms = float(fetch(dsn, "SHOW idle_session_timeout")[0][0].rstrip("ms") or 0)
    assert ("server idle_session_timeout" in advice.idle_timeouts_s) == (server_ms > 0)
    assert "firewall" not in advice.idle_timeouts_s  # 0 means off
    assert advice.shortest[1] <= 240
    assert [advice.safe(s) for s in advice.advice_s] == [False, False]
    assert advice.safe(60) == (advice.shortest[1] > 60)
    # asyncpg retires idle connections above minsize only
    assert advice.burst_opened == 5
    assert advice.floor_kept == advice.minsize == 3


def test_idle_lifetime_advice_with_nothing_on_the_path(dsn):
    advice = article.evaluate_idle_lifetime_advice(dsn, measure_floor=False)
    assert advice.floor_kept is None
    if advice.shortest is None:  # the embedded server's default: idle_session_timeout = 0
        assert all(advice.safe(s) for s in advice.advice_s)
    with pytest.raises(ValueError, match="0 = off"):
        article.evaluate_idle_lifetime_advice(dsn, {"proxy": -1})


# ----------------------------------------------------------------- beside the example app


def test_example_app_still_answers_after_the_article_labs(start_app, dsn):
    app = start_app(maxsize=3)
    before = app.pool_status()
    article.run_article_config(dsn)
    article.run_article_users_route(dsn)
    article.run_article_metrics_snippet(dsn)
    article.run_article_transaction(dsn)
    after = app.pool_status()
    assert after["max_size"] == before["max_size"] == 3
    assert after["database"] == "reachable"
    email = f"after-{uuid.uuid4().hex}@example.org"
    created = httpx.post(f"{app.url}/users", json={"email": email, "name": "Ada"}, timeout=10)
    assert created.status_code == 201
    again = httpx.post(f"{app.url}/users", json={"email": email, "name": "Ada"}, timeout=10)
    assert again.status_code == 409
