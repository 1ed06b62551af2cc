"""``labkit workshop ...``: the instructor's commands for a workshop on one host.

- ``labkit workshop env``: build the hub's environment (from a Pool Lab checkout);
- ``labkit workshop config``: write ``jupyterhub_config.py`` and the instructor's token;
- ``labkit workshop collect``: fetch every learner's notebook through the hub.

``docs/workshop.md`` walks through them in order.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from labkit.errors import LabkitError


def _env(args: argparse.Namespace) -> int:
    from labkit.workshop.environment import build_hub_environment

    env = build_hub_environment(Path(args.source), Path(args.root), args.python)
    print(env.prefix)
    return 0


def _config(args: argparse.Namespace) -> int:
    from labkit.workshop.environment import HubEnvironment
    from labkit.workshop.hubconfig import HubSettings, write_hub_config

    env = HubEnvironment(Path(args.env))
    if not (env.prefix / ".complete").exists():
        raise LabkitError(f"{env.prefix} is not a built hub environment: run `labkit workshop env`")
    extra = {}
    if args.learner_banks:
        extra["LABKIT_BANKS"] = str(Path(args.learner_banks).resolve())
    settings = HubSettings(
        environment=env,
        run_dir=Path(args.run_dir).resolve(),
        learners=args.learner,
        port=args.port,
        cull_timeout_s=args.cull_timeout,
        authenticator=args.authenticator,
        extra_environment=extra,
    )
    path = write_hub_config(settings)
    print(f"wrote {path} and {settings.run_dir / 'instructor-token'}")
    print(f"start the hub: cd {settings.run_dir} && {env.command('jupyterhub')} -f {path}")
    if args.authenticator == "dummy":
        print(f"REHEARSAL ONLY: every learner's password is {settings.password}")
    return 0


def _collect(args: argparse.Namespace) -> int:
    from labkit.workshop.collect import collect_notebooks
    from labkit.workshop.hub import HubAPI

    token = Path(args.token_file).read_text().strip()
    api = HubAPI(args.hub.rstrip("/"), token)
    try:
        learners = args.learner or [
            u["name"] for u in api.client.get("/hub/api/users").raise_for_status().json()
        ]
        written, missing = collect_notebooks(api, learners, args.notebook, Path(args.out))
    finally:
        api.close()
    for path in written:
        print(path)
    for learner, reason in missing.items():
        print(f"{learner}: not collected ({reason})")
    print(f"{len(written)} of {len(learners)} notebooks collected into {args.out}")
    return 0


def register(commands) -> None:
    """Add ``workshop`` and its actions to labkit's command parser."""
    from labkit.workshop.environment import DEFAULT_ROOT, SYSTEM_PYTHON

    workshop = commands.add_parser("workshop", help="a class on one JupyterHub host")
    actions = workshop.add_subparsers(dest="action", required=True)

    env = actions.add_parser("env", help="build the hub's environment every learner can run")
    env.add_argument("--source", default=".", help="the Pool Lab checkout (default: here)")
    env.add_argument("--root", default=str(DEFAULT_ROOT), help="where environments are kept")
    env.add_argument("--python", default=SYSTEM_PYTHON, help="a system-wide Python")
    env.set_defaults(run=_env)

    config = actions.add_parser("config", help="write jupyterhub_config.py for the class")
    config.add_argument("--env", required=True, help="the environment `workshop env` printed")
    config.add_argument("--run-dir", required=True, help="the hub's private folder")
    config.add_argument("--learner", action="append", required=True, help="repeat per learner")
    config.add_argument("--port", type=int, default=8000, help="the hub's port on 127.0.0.1")
    config.add_argument("--cull-timeout", type=int, default=3600, help="idle seconds")
    config.add_argument("--authenticator", choices=["pam", "dummy"], default="pam")
    config.add_argument(
        "--learner-banks", metavar="DIR", help="a class release of the banks, readable by all"
    )
    config.set_defaults(run=_config)

    collect = actions.add_parser("collect", help="fetch every learner's notebook via the hub")
    collect.add_argument("--hub", required=True, help="e.g. http://127.0.0.1:8000")
    collect.add_argument("--token-file", required=True, help="the instructor service's token")
    collect.add_argument("--notebook", required=True, help="e.g. 04_pool_exhaustion.ipynb")
    collect.add_argument("--learner", action="append", help="default: every user of the hub")
    collect.add_argument("--out", default="submitted", help="nbgrader's submitted/ layout")
    collect.set_defaults(run=_collect)
