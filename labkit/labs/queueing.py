"""Queueing models for a pool: how long a request waits for one of c connections.

A pool of ``c`` connections that requests wait for, first come first served, is a
queue with ``c`` servers. Say requests arrive at random at a rate of λ per second
and each holds a connection for S seconds on average. Then:

- the offered load is a = λ·S (in erlangs: connections busy on average);
- the utilisation is ρ = a / c, and the queue is stable only while ρ < 1;
- **Erlang C** gives the probability that an arriving request finds all ``c``
  connections busy and must wait, for the classic M/M/c queue (Poisson arrivals,
  exponentially distributed hold times, c servers, an unlimited queue);
- the mean wait of those requests is then C(c, a) / (c/S − λ).

>>> mmc_wait(arrival_rate=60, service_time_s=0.05, servers=4)
QueuePrediction(model='M/M/c', servers=4, utilisation=0.75, p_wait=0.509, mean_wait_s=0.025)

Real pools break some of these assumptions (a fixed hold time is not exponential;
a closed loop of N clients is not Poisson; each web request may pass the queue
several times). :func:`mgc_wait` corrects for the spread of hold times with the
Allen–Cunneen approximation, so you can see how much each assumption matters.
"""

from __future__ import annotations

from dataclasses import dataclass

from labkit.messages import _

__all__ = ["QueuePrediction", "erlang_c", "mgc_wait", "mmc_wait"]


def erlang_c(servers: int, offered_load: float) -> float:
    """Probability that an arrival waits in an M/M/c queue (Erlang's C formula).

    ``offered_load`` is a = λ·S in erlangs and must be below ``servers``. Computed
    through Erlang B's recursion, which stays accurate for large ``servers``:
    B(0) = 1, B(k) = a·B(k−1) / (k + a·B(k−1)), then C = c·B / (c − a·(1 − B)).

    >>> round(erlang_c(1, 0.5), 6)   # one server: the chance to wait is ρ
    0.5
    >>> round(erlang_c(2, 1.0), 6)   # a textbook case
    0.333333
    """
    if servers < 1:
        raise ValueError(_("servers must be at least 1, got {servers}").format(servers=servers))
    if offered_load < 0:
        raise ValueError(
            _("offered_load must not be negative, got {load}").format(load=offered_load)
        )
    if offered_load >= servers:
        raise ValueError(
            _(
                "offered load {load:.3g} erlangs is not below {servers} servers: the queue "
                "grows without bound (utilisation >= 1). Lower the arrival rate or the hold "
                "time, or add servers."
            ).format(load=offered_load, servers=servers)
        )
    blocking = 1.0
    for k in range(1, servers + 1):
        blocking = offered_load * blocking / (k + offered_load * blocking)
    return servers * blocking / (servers - offered_load * (1 - blocking))


@dataclass(frozen=True)
class QueuePrediction:
    """What a queueing model predicts for one pool and one offered load."""

    model: str
    servers: int
    arrival_rate: float  # requests per second
    service_time_s: float  # mean time each request holds a server
    utilisation: float  # ρ = λ·S / c
    p_wait: float  # probability that a request waits at all
    mean_wait_s: float  # mean wait over all requests (those that did not wait count 0)

    @property
    def mean_wait_if_waiting_s(self) -> float:
        """The mean wait of the requests that do wait."""
        return self.mean_wait_s / self.p_wait if self.p_wait else 0.0

    @property
    def mean_response_s(self) -> float:
        """Wait plus service: how long a request spends at the pool in all."""
        return self.mean_wait_s + self.service_time_s

    def __repr__(self) -> str:
        return (
            f"QueuePrediction(model={self.model!r}, servers={self.servers}, "
            f"utilisation={self.utilisation:.3g}, p_wait={self.p_wait:.3g}, "
            f"mean_wait_s={self.mean_wait_s:.2g})"
        )

    def __str__(self) -> str:
        return _(
            "{model}: {servers} servers, λ = {rate:.1f}/s, S = {service_ms:.1f} ms, "
            "utilisation {rho:.0%}: {p_wait:.0%} of requests wait, mean wait {wait_ms:.1f} ms"
        ).format(
            model=self.model,
            servers=self.servers,
            rate=self.arrival_rate,
            service_ms=self.service_time_s * 1000,
            rho=self.utilisation,
            p_wait=self.p_wait,
            wait_ms=self.mean_wait_s * 1000,
        )


def _check(arrival_rate: float, service_time_s: float) -> None:
    if arrival_rate <= 0:
        raise ValueError(
            _("arrival_rate must be positive (requests per second), got {rate}").format(
                rate=arrival_rate
            )
        )
    if service_time_s <= 0:
        raise ValueError(
            _("service_time_s must be positive (seconds), got {service}").format(
                service=service_time_s
            )
        )


def mmc_wait(arrival_rate: float, service_time_s: float, servers: int) -> QueuePrediction:
    """Erlang C's prediction for Poisson arrivals at ``arrival_rate`` per second, each
    holding one of ``servers`` connections for ``service_time_s`` on average
    (exponentially distributed).
    """
    _check(arrival_rate, service_time_s)
    load = arrival_rate * service_time_s
    p_wait = erlang_c(servers, load)
    mean_wait = p_wait * service_time_s / (servers - load)  # = C / (c·μ − λ)
    return QueuePrediction(
        "M/M/c", servers, arrival_rate, service_time_s, load / servers, p_wait, mean_wait
    )


def mgc_wait(
    arrival_rate: float, service_time_s: float, servers: int, service_cv2: float
) -> QueuePrediction:
    """Allen–Cunneen's approximation for any hold-time distribution (M/G/c).

    ``service_cv2`` is the squared coefficient of variation of the hold time
    (variance / mean²): 1 for exponential (then this is exactly Erlang C), 0 for a
    fixed hold time such as ``pg_sleep`` (M/D/c: about half Erlang C's wait).
    The mean wait scales by (1 + cv²) / 2; the chance to wait is left as Erlang C's.
    """
    if service_cv2 < 0:
        raise ValueError(_("service_cv2 must not be negative, got {cv2}").format(cv2=service_cv2))
    base = mmc_wait(arrival_rate, service_time_s, servers)
    model = "M/D/c" if service_cv2 == 0 else f"M/G/c (cv²={service_cv2:g})"
    return QueuePrediction(
        model,
        servers,
        arrival_rate,
        service_time_s,
        base.utilisation,
        base.p_wait,
        base.mean_wait_s * (1 + service_cv2) / 2,
    )
