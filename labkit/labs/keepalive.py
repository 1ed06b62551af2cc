"""The article's advice, tested: "run SELECT 1 periodically to keep idle connections alive".

We give every session of the app a server-side ``idle_session_timeout`` (the kind
of limit a server, proxy or firewall imposes), then watch the pool's connections
with and without a periodic SELECT 1 sent through the pool.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import httpx

from labkit.infra.server_log import server_log_lines
from labkit.infra.sessions import app_sessions
from labkit.messages import N_, _, display_width

__all__ = ["KeepaliveOutcome", "keepalive_experiment", "keepalive_table"]

# The runs' names: the English is the key of the dict keepalive_experiment returns (the
# notebook looks runs up by it); keepalive_table shows them translated.
NO_KEEPALIVE = N_("no keepalive")
PINGS = N_("SELECT 1 every few hundred ms")
LIFETIME = N_("pool lifetime < server timeout, minsize {minsize}")


@dataclass(frozen=True)
class KeepaliveOutcome:
    pings: int  # SELECT 1 requests sent through the pool during the wait
    before: frozenset[int]  # backend pids of the app's sessions before the wait
    after: frozenset[int]  # ... and after it
    first_request_ms: float  # the first request after the wait
    closed_by_server: int | None  # sessions the server ended for idling (None: log unreadable)
    label: str = ""  # the run's name in the language it was run in

    @property
    def survived(self) -> int:
        """Sessions that lived through the wait."""
        return len(self.before & self.after)

    @property
    def replaced(self) -> int:
        """Sessions the pool opened anew during the wait, after the server closed old ones."""
        return len(self.after - self.before)


def _pids(app) -> frozenset[int]:
    return frozenset(s.pid for s in app_sessions(app))


def _idle_kills() -> int | None:
    lines = server_log_lines(contains="idle-session timeout")
    return None if lines is None else len(lines)


def _watch(app, wait_s: float, ping_every_s: float | None, label: str) -> KeepaliveOutcome:
    kills_before = _idle_kills()
    before = _pids(app)
    pings = 0
    with httpx.Client(base_url=app.url, timeout=10) as client:
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            if ping_every_s is not None:
                client.get("/lab/ping-db").raise_for_status()
                pings += 1
            time.sleep(ping_every_s or 0.05)
        after = _pids(app)
        began = time.perf_counter()
        client.get("/lab/ping-db").raise_for_status()
        first_ms = (time.perf_counter() - began) * 1000
    kills_after = _idle_kills()
    closed = None if kills_before is None else kills_after - kills_before
    return KeepaliveOutcome(pings, before, after, first_ms, closed, label)


def keepalive_experiment(
    app,
    pool_size: int = 3,
    idle_session_timeout_s: float = 1.0,
    ping_every_s: float = 0.3,
    wait_s: float = 2.5,
) -> dict[str, KeepaliveOutcome]:
    """Four runs of ``wait_s`` idle seconds against a server that closes sessions idle for
    ``idle_session_timeout_s``: no keepalive; SELECT 1 every ``ping_every_s``; and a pool whose
    own idle lifetime is shorter than the server's timeout, once with the same
    ``minsize=pool_size`` as the others and once with ``minsize=0``.

    The two lifetime runs differ on purpose: asyncpg never retires connections below
    ``min_size`` (a floor connection gets no inactivity timer), so a lifetime only
    helps for the connections above minsize.
    """
    timeout_ms = str(int(idle_session_timeout_s * 1000))
    settings = {"idle_session_timeout": timeout_ms}
    outcomes = {}
    lifetime = {"max_inactive_connection_lifetime": idle_session_timeout_s / 2}
    # (name, its placeholders, pool changes, ping interval)
    runs = [
        (NO_KEEPALIVE, {}, {}, None),
        (PINGS, {}, {}, ping_every_s),
        (LIFETIME, {"minsize": pool_size}, lifetime, None),
        (LIFETIME, {"minsize": 0}, {**lifetime, "minsize": 0}, None),
    ]
    for template, values, pool_changes, ping in runs:
        name = template.format(**values)
        app.restart(
            **{
                "minsize": pool_size,
                "maxsize": pool_size,
                "max_inactive_connection_lifetime": 300.0,
                **pool_changes,
            },
            server_settings=settings,
        )
        outcomes[name] = _watch(app, wait_s, ping, _(template).format(**values))
    app.restart(server_settings={}, minsize=1, maxsize=5, max_inactive_connection_lifetime=300.0)
    return outcomes


def _rpad(text: str, width: int) -> str:
    """``text`` right-aligned in ``width`` columns (a Chinese character takes two)."""
    return " " * max(0, width - display_width(text)) + text


def keepalive_table(outcomes: dict[str, KeepaliveOutcome]) -> str:
    """The runs of :func:`keepalive_experiment` side by side, one line each."""
    headings = [_("pings"), _("survived"), _("replaced"), _("closed by server"), _("first request")]
    # each column at least as wide as the English layout, wider if its heading needs it
    widths = [
        max(w, display_width(h) + 1) for h, w in zip(headings, (6, 10, 10, 18, 15), strict=True)
    ]
    label_w = max(44, *(display_width(o.label or n) + 2 for n, o in outcomes.items()))
    lines = [" " * label_w + "".join(_rpad(h, w) for h, w in zip(headings, widths, strict=True))]
    for name, o in outcomes.items():
        label = o.label or name
        closed = "?" if o.closed_by_server is None else o.closed_by_server
        survived = _("{survived:>7} of {total}").format(survived=o.survived, total=len(o.before))
        cells = [
            _rpad(str(o.pings), widths[0]),
            _rpad(survived, widths[1] + 2),  # "  3 of 3" is two wider than its heading
            _rpad(str(o.replaced), widths[2]),
            _rpad(str(closed), widths[3]),
            _rpad(f"{o.first_request_ms:.1f} ms", widths[4]),
        ]
        lines.append(label + " " * (label_w - display_width(label)) + "".join(cells))
    return "\n".join(lines)
