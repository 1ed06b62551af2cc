"""The notebooks' labs: one module per experiment a notebook runs.

>>> from labkit.labs import exhaustion                 # doctest: +SKIP
>>> run = exhaustion.exhaustion_lab(maxsize=2, concurrency=6, hold_ms=300)  # doctest: +SKIP

Each lab is a plain function (the widgets in :mod:`labkit.widgets` call the same
ones), measures the learner's own app live, and records its key figures for the
quizzes.

- :mod:`.start_here`: notebook 00, when a pool opens its connections, and
  connections borrowed and given back;
- :mod:`.principles`: notebook 01, why pool (connect cost, pooled vs unpooled, minsize,
  maxsize, idle lifetime);
- :mod:`.tuning`: notebook 02, sizing (maxsize sweeps, Little's law, CPU-bound knee);
- :mod:`.staleness`: notebook 03, the article's polling loop against scrape-time reads;
- :mod:`.exhaustion`, :mod:`.outage`: notebook 04, a pool that runs out, and the database
  under it going away;
- :mod:`.leaks`: notebook 05, connection leaks, found and cured;
- :mod:`.client_limits`, :mod:`.keepalive`: notebook 06, "too many clients" and the
  article's keepalive advice;
- :mod:`.article`: notebooks 07 and 08, the source article's configuration and code, run;
- :mod:`.scale_out`, :mod:`.pooler_modes`, :mod:`.queueing`: notebooks 09 and 10, many
  worker processes, PgBouncer in front of PostgreSQL, and the queueing model of its pool.
"""

__all__ = [
    "article",
    "client_limits",
    "conclusions",
    "exhaustion",
    "keepalive",
    "leaks",
    "outage",
    "pooler_modes",
    "principles",
    "queueing",
    "scale_out",
    "staleness",
    "start_here",
    "tuning",
]
