"""A classroom workshop on one host: a real JupyterHub, one system account per learner.

Instructor-side tools, one job per module:

- :mod:`.environment`: the hub's Python and proxy, built from a system-wide Python
  into a folder every learner's account can read and execute;
- :mod:`.hubconfig`: the ``jupyterhub_config.py`` (local-process spawner, loopback,
  the idle culler as a hub service, ``LABKIT_SHARED_HOST=1`` for every learner);
- :mod:`.hub`: run that hub and drive it through its REST API;
- :mod:`.remote`: run a notebook in a learner's own kernel, through the hub;
- :mod:`.serverext`: the Jupyter server extension that stops a learner's database
  and Prometheus when their server stops (stopped by hand, by the hub or culled);
- :mod:`.collect`: collect every learner's notebook through the hub, then grade;
- :mod:`.usage`: per-learner memory (PSS) and CPU, and the host's load;
- :mod:`.accounts`: system accounts for a rehearsal (test or benchmark).

``docs/workshop.md`` is the instructor's guide to all of it.
"""
