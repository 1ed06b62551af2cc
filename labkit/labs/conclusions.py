"""The sentences a notebook prints about what it measured, computed from the numbers.

A notebook never states an outcome whatever the numbers turned out to be: each
function here takes the measured figures and returns a sentence that is true *for
them*, branching where the data can go either way (TEACHING.md: "a conclusion
branches on the data").

>>> print(conclusions.http_vs_bare(http_ratio=3.1, bare_ratio=28.0))   # doctest: +SKIP

Every call also records its figures, its sentence and the language it was said in, in the
learner's results file (under ``"NN.conclusion.<name>"``), so a test can recompute each
printed conclusion from the figures the notebook recorded, in the same language, and check
that the two agree: ``REGISTRY[key](**figures)`` with the recorded ``language`` among them.
"""

from __future__ import annotations

import functools
import inspect
import math
from collections.abc import Callable

from labkit.infra.results import record_result
from labkit.language import language, speaking
from labkit.messages import _

__all__ = [
    "REGISTRY",
    "alert_timeline",
    "cold_first_wave",
    "cpu_knee",
    "exhaustion_queue",
    "http_vs_bare",
    "in_use_after_server_timeout",
    "keepalive_lifetime",
    "keepalive_pings",
    "knee_vs_concurrency",
    "leaked_pool_blocks",
    "load_generator_headroom",
    "queue_is_the_sign",
    "queue_moved_into_cpu",
    "short_peak_seen",
    "steady_state",
]

# "NN.conclusion.name" -> the pure function (figures -> sentence), for the consistency test
REGISTRY: dict[str, Callable[..., str]] = {}


def _conclusion(notebook: str) -> Callable[[Callable[..., str]], Callable[..., str]]:
    """Register ``fn`` and make each call record its figures, sentence and language."""

    def wrap(fn: Callable[..., str]) -> Callable[..., str]:
        key = f"{notebook}.conclusion.{fn.__name__}"
        REGISTRY[key] = _in_language(fn)

        @functools.wraps(fn)
        def recorded(**figures: float) -> str:
            sentence = fn(**figures)
            record_result(key, sentence=sentence, language=language(), **figures)
            return sentence

        return recorded

    return wrap


def _in_language(fn: Callable[..., str]) -> Callable[..., str]:
    """``fn`` with one more keyword, ``language``: the sentence as it was said in that language.

    A sentence printed in a Chinese notebook was computed in Chinese; recomputing it from
    its record must use the same language, whatever the recomputing process speaks.
    """

    def pure(*, language: str | None = None, **figures: float) -> str:
        with speaking(language):
            return fn(**figures)

    functools.update_wrapper(pure, fn)
    signature = inspect.signature(fn)
    extra = inspect.Parameter("language", inspect.Parameter.KEYWORD_ONLY, default=None)
    pure.__signature__ = signature.replace(parameters=[*signature.parameters.values(), extra])
    return pure


# ----------------------------------------------------------------------------- 01
@_conclusion("01")
def http_vs_bare(*, http_ratio: float, bare_ratio: float) -> str:
    """Pooled/unpooled over HTTP against the same ratio measured on bare asyncpg."""
    if http_ratio < bare_ratio:
        return _(
            "Over HTTP the pooled endpoint served {http_ratio:.1f}x more requests per second: "
            "less than the {bare_ratio:.0f}x of the bare asyncpg test, because both endpoints "
            "also pay the same HTTP and framework work per request, and only the connection "
            "set-up differs."
        ).format(http_ratio=http_ratio, bare_ratio=bare_ratio)
    return _(
        "Over HTTP the pooled endpoint served {http_ratio:.1f}x more requests per second, "
        "no less than the {bare_ratio:.0f}x of the bare asyncpg test: on this run the "
        "connection set-up dominated each request even with HTTP around it."
    ).format(http_ratio=http_ratio, bare_ratio=bare_ratio)


@_conclusion("01")
def load_generator_headroom(*, pooled_rps: float, generator_rps: float) -> str:
    """Did the load generator, rather than the pool, limit the pooled run?"""
    share = pooled_rps / generator_rps if generator_rps else math.nan
    if share >= 0.8:
        return _(
            "The pooled run reached {share:.0%} of the {generator_rps:.0f} req/s the load "
            "generator drove on this endpoint on its own, so the machine limited it, not the "
            "pool: read the ratio as a lower bound."
        ).format(share=share, generator_rps=generator_rps)
    return _(
        "The pooled run reached {share:.0%} of the {generator_rps:.0f} req/s the load "
        "generator can drive on this endpoint, so the generator was not the limit: the ratio "
        "measures the pool."
    ).format(share=share, generator_rps=generator_rps)


@_conclusion("01")
def cold_first_wave(
    *, burst: int, opened: int, cold_slowest_ms: float, warm_slowest_ms: float
) -> str:
    """How many of the first wave's requests had to wait for a new connection."""
    figures = dict(
        burst=burst, opened=opened, cold_slowest_ms=cold_slowest_ms, warm_slowest_ms=warm_slowest_ms
    )
    if opened == 0:
        return _(
            "With minsize=1 the pool opened no new connection during the first wave of "
            "{burst}: the requests took turns on the open one (slowest {cold_slowest_ms:.1f} ms "
            "against {warm_slowest_ms:.1f} ms with minsize={burst})."
        ).format(**figures)
    return _(
        "With minsize=1 the pool opened {opened} new connection(s) during the first wave of "
        "{burst}, so {opened} request(s) first waited for a connection to be set up: the "
        "slowest took {cold_slowest_ms:.1f} ms, against {warm_slowest_ms:.1f} ms when all "
        "{burst} were open in advance."
    ).format(**figures)


# ----------------------------------------------------------------------------- 02
@_conclusion("02")
def knee_vs_concurrency(
    *, knee: int, concurrency: int, knee_p95_ms: float, hold_ms: float, first_p95_ms: float
) -> str:
    """Where throughput stopped growing, and what p95 did on the way there."""
    if knee == concurrency:
        where = _(
            "the knee came at maxsize={knee}, the {concurrency} clients' own concurrency: beyond "
            "it no request is ever left waiting for a connection"
        )
    elif knee < concurrency:
        where = _("the knee came at maxsize={knee}, below the {concurrency} clients' concurrency")
    else:
        where = _("the knee came at maxsize={knee}, above the {concurrency} clients' concurrency")
    if knee_p95_ms <= 1.5 * hold_ms:
        p95 = _(
            "p95 fell from {first_p95_ms:.0f} ms at maxsize 1 to {knee_p95_ms:.0f} ms, close to "
            "the {hold_ms:.0f} ms each request holds its connection"
        )
    else:
        p95 = _(
            "p95 fell from {first_p95_ms:.0f} ms at maxsize 1 but was still "
            "{knee_p95_ms:.0f} ms at the knee, {holds:.1f}x the {hold_ms:.0f} ms hold"
        )
    return _("In your run {where}; {p95}.").format(
        where=where.format(knee=knee, concurrency=concurrency),
        p95=p95.format(
            first_p95_ms=first_p95_ms,
            knee_p95_ms=knee_p95_ms,
            hold_ms=hold_ms,
            holds=knee_p95_ms / hold_ms,
        ),
    )


@_conclusion("02")
def cpu_knee(*, knee: int, cores: int, rule: int, knee_rps: float, largest_rps: float) -> str:
    """The CPU-bound knee against the cores this process may use and the rule of thumb."""
    change = largest_rps / knee_rps - 1 if knee_rps else math.nan
    figures = dict(knee=knee, cores=cores, rule=rule, knee_rps=knee_rps, change=change)
    if knee <= rule:
        return _(
            "Throughput stopped growing at maxsize={knee} ({knee_rps:.0f} req/s; the largest "
            "pool gave {change:+.0%}). This process may use {cores} core(s), so the rule of "
            "thumb says {rule}. The knee came at or below it: past that, a larger pool added "
            "connections, not capacity."
        ).format(**figures)
    return _(
        "Throughput stopped growing at maxsize={knee} ({knee_rps:.0f} req/s; the largest "
        "pool gave {change:+.0%}). This process may use {cores} core(s), so the rule of "
        "thumb says {rule}. Here the knee came above it: the rule is a starting point to "
        "measure from, not a law (the database, the app and the load generator share these "
        "cores)."
    ).format(**figures)


@_conclusion("02")
def queue_moved_into_cpu(
    *, small: int, small_hold_ms: float, large: int, large_hold_ms: float
) -> str:
    """Did a larger pool move the wait from the pool into the database's CPU?"""
    figures = dict(
        small=small, small_hold_ms=small_hold_ms, large=large, large_hold_ms=large_hold_ms
    )
    if large_hold_ms > 1.3 * small_hold_ms:
        return _(
            "With maxsize={large} each request held its connection {large_hold_ms:.0f} ms "
            "instead of {small_hold_ms:.0f} ms with maxsize={small}: the queue moved from the "
            "pool into the database's CPU, where the queries share the cores and each extra "
            "connection costs server memory. A query there can still be bounded "
            "(statement_timeout, or cancelling it), but a wait in the pool is cheaper, visible "
            "in `waiting`, and bounded by an acquire timeout."
        ).format(**figures)
    return _(
        "With maxsize={large} each request held its connection {large_hold_ms:.0f} ms, about "
        "as long as the {small_hold_ms:.0f} ms with maxsize={small}: the database's CPU was "
        "not the bottleneck at this load, so the extra connections cost memory but no time."
    ).format(**figures)


# ----------------------------------------------------------------------------- 03
@_conclusion("03")
def steady_state(*, used: float, waiting: float, maxsize: int, clients: int) -> str:
    """The pool's gauges during a steady overload, against what the arithmetic says."""
    expected = max(0, clients - maxsize)
    figures = dict(used=used, waiting=waiting, maxsize=maxsize, clients=clients, expected=expected)
    if abs(used - maxsize) <= 0.5 and abs(waiting - expected) <= 0.75:
        return _(
            "In the steady part of the run `used` averaged {used:.1f} (maxsize {maxsize}) and "
            "`waiting` {waiting:.1f} ({clients} clients - {maxsize} connections = {expected}): "
            "as the arithmetic says."
        ).format(**figures)
    return _(
        "In the steady part of the run `used` averaged {used:.1f} (maxsize {maxsize}) and "
        "`waiting` {waiting:.1f} ({clients} clients - {maxsize} connections = {expected}): "
        "off the arithmetic: the readings were taken while the load was still ramping "
        "or ending."
    ).format(**figures)


@_conclusion("03")
def alert_timeline(
    *, first_waiting_s: float, pending_s: float, firing_s: float, for_s: float
) -> str:
    """When the queue formed, and when the alert went pending and fired."""
    return _(
        "Requests started waiting {first_waiting_s:.1f} s into the run; the alert went "
        "pending at {pending_s:.1f} s and fired at {firing_s:.1f} s, "
        "{delay_s:.1f} s after the queue formed (its `for:` is "
        "{for_s:.0f} s, and each step waits for the next scrape and rule evaluation)."
    ).format(
        first_waiting_s=first_waiting_s,
        pending_s=pending_s,
        firing_s=firing_s,
        delay_s=firing_s - first_waiting_s,
        for_s=for_s,
    )


# ----------------------------------------------------------------------------- 04
@_conclusion("04")
def exhaustion_queue(*, peak_waiting: int, maxsize: int, concurrency: int, rounds_seen: int) -> str:
    """The queue's peak and the latency steps, against the arithmetic of the burst."""
    expected = max(0, concurrency - maxsize)
    rounds = math.ceil(concurrency / maxsize)
    figures = dict(
        peak_waiting=peak_waiting,
        maxsize=maxsize,
        concurrency=concurrency,
        expected=expected,
        rounds_seen=rounds_seen,
        rounds=rounds,
    )
    if peak_waiting == expected:
        return _(
            "`waiting` peaked at {peak_waiting}, the {concurrency} requests minus maxsize "
            "{maxsize}. The latencies fell into {rounds_seen} step(s) of one hold each "
            "({concurrency} requests / {maxsize} connections = {rounds} rounds)."
        ).format(**figures)
    return _(
        "`waiting` peaked at {peak_waiting} (the arithmetic says {concurrency} - "
        "{maxsize} = {expected}; the sampler reads 20 times a second and can miss an instant). "
        "The latencies fell into {rounds_seen} step(s) of one hold each "
        "({concurrency} requests / {maxsize} connections = {rounds} rounds)."
    ).format(**figures)


@_conclusion("04")
def queue_is_the_sign(*, peak_waiting: int, slowest_ms: float, hold_ms: float) -> str:
    """What the queue says about the bottleneck, and what it does not say."""
    # Translated (labkit/locale/zh.po): the worked example of docs/translating.md.
    if peak_waiting == 0:
        return _(
            "No request waited (slowest {slowest_ms:.0f} ms for a {hold_ms:.0f} ms hold): the "
            "pool was large enough for this burst."
        ).format(slowest_ms=slowest_ms, hold_ms=hold_ms)
    return _(
        "Nothing failed and nothing was logged; the only sign was the wait queue, which "
        "peaked at {peak_waiting} while the slowest request took {slowest_ms:.0f} ms = "
        "{holds:.1f} holds. Here the hold is pg_sleep, so the database itself "
        "was idle: a growing queue says the pool is the bottleneck for *this* load. Whether a "
        "larger pool would help depends on the database's own capacity (notebook 02): if the "
        "hold were CPU work, more connections would only move the queue into the database."
    ).format(peak_waiting=peak_waiting, slowest_ms=slowest_ms, holds=slowest_ms / hold_ms)


# ----------------------------------------------------------------------------- 05
@_conclusion("05")
def leaked_pool_blocks(*, free_slots: int, completed: bool) -> str:
    """Did an ordinary request get through a pool with leaked connections?"""
    if completed:
        return _("free slots: {free_slots}. A request with a 1 s timeout completed.").format(
            free_slots=free_slots
        )
    return _(
        "free slots: {free_slots}. A request with a 1 s timeout did NOT complete: it is "
        "waiting for a connection that will never come back."
    ).format(free_slots=free_slots)


@_conclusion("05")
def in_use_after_server_timeout(*, in_use_before: int, in_use_after: int) -> str:
    """Did the pool take back the slot of a session the server ended?"""
    if in_use_after < in_use_before:
        return _(
            "in_use went from {in_use_before} to {in_use_after}: asyncpg noticed that the "
            "server closed the connection and took its slot back by itself, so the leaked "
            "handle now refuses to work; the work in that transaction was rolled back."
        ).format(in_use_before=in_use_before, in_use_after=in_use_after)
    return _(
        "in_use stayed at {in_use_after} (it was {in_use_before}): the pool had not yet "
        "noticed the closed connection when it was read; it takes the slot back on its next use."
    ).format(in_use_before=in_use_before, in_use_after=in_use_after)


# ----------------------------------------------------------------------------- 06
@_conclusion("06")
def keepalive_pings(*, pings: int, survived: int, total: int, replaced: int) -> str:
    """What periodic SELECT 1 through a pool did for its idle connections."""
    if survived < total:
        return _(
            "With {pings} SELECT 1 pings, {survived} of {total} original connections survived: "
            "asyncpg's pool hands out the most recently returned connection first (a LIFO "
            "queue), so the pings kept reusing one and the idle ones behind it timed out. The "
            "pool quietly replaced {replaced}, paying a new connection each time."
        ).format(pings=pings, survived=survived, total=total, replaced=replaced)
    return _(
        "With {pings} SELECT 1 pings all {total} original connections survived this run: the "
        "pings happened to reach every idle connection before the server's timeout."
    ).format(pings=pings, total=total)


@_conclusion("06")
def keepalive_lifetime(
    *, minsize: int, closed_with_floor: int, closed_without_floor: int, first_request_ms: float
) -> str:
    """The pool's own idle lifetime, with and without a minsize floor."""
    floor = (
        _(
            "With minsize={minsize} the lifetime changed nothing: the server still closed "
            "{closed_with_floor}, because asyncpg never retires connections below min_size."
        ).format(minsize=minsize, closed_with_floor=closed_with_floor)
        if closed_with_floor > 0
        else _("With minsize={minsize} the server closed none this time.").format(minsize=minsize)
    )
    zero = (
        _(
            "With minsize=0 the server closed none: the pool had already retired its idle "
            "connections, and the next request opened a fresh one in {first_request_ms:.1f} ms."
        ).format(first_request_ms=first_request_ms)
        if closed_without_floor == 0
        else _(
            "With minsize=0 the server still closed {closed_without_floor}: the pool's timer "
            "fired after the server's on this run."
        ).format(closed_without_floor=closed_without_floor)
    )
    # Two whole sentences side by side (Chinese puts no space between them).
    return _("{floor} {zero}").format(floor=floor, zero=zero)


@_conclusion("03")
def short_peak_seen(
    *, true_peak: float, gauge_max: float, waits_counted: float, burst_s: float
) -> str:
    """A peak shorter than the scrape interval: the gauge against the histogram."""
    figures = dict(
        true_peak=true_peak, gauge_max=gauge_max, waits_counted=waits_counted, burst_s=burst_s
    )
    if gauge_max < true_peak:
        return _(
            "The burst lasted {burst_s:.2f} s and up to {true_peak:.0f} requests waited at "
            "once; the `waiting` gauge, read at each scrape, never saw it (its largest reading "
            "was {gauge_max:.0f}). The wait-time histogram counted {waits_counted:.0f} acquires "
            "that waited longer than 50 ms: every acquire is counted when it ends, so no wait "
            "slips between scrapes. Peaks belong in the histogram and the timeouts counter, "
            "not in a gauge."
        ).format(**figures)
    return _(
        "The burst lasted {burst_s:.2f} s and up to {true_peak:.0f} requests waited at "
        "once; a scrape happened to land inside it and the gauge read {gauge_max:.0f}, but "
        "only by luck: most bursts this short fall between two scrapes. The wait-time "
        "histogram counted {waits_counted:.0f} acquires that waited longer than 50 ms: every "
        "acquire is counted when it ends, so no wait slips between scrapes. Peaks belong in "
        "the histogram and the timeouts counter, not in a gauge."
    ).format(**figures)
