"""A workshop rehearsal: throw-away learner accounts on a real hub, driven by the instructor.

The test (``tests/test_workshop.py``) and the sizing benchmark
(``benchmarks/workshop.py``) both rehearse a class this way; an instructor can
too, on the host they mean to teach on, before the day.

>>> with rehearsal(Path("."), learners=3) as class_:                  # doctest: +SKIP
...     class_.api.start_servers(class_.names)
...     figures, notebooks = class_.run_notebooks({name: nb for name in class_.names})
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from labkit.workshop.accounts import Learner, create_learners, remove_learners
from labkit.workshop.environment import build_hub_environment
from labkit.workshop.hub import HubAPI, RunningHub
from labkit.workshop.hubconfig import HubSettings
from labkit.workshop.remote import RemoteKernel
from labkit.workshop.usage import UsageSampler


@dataclass
class Rehearsal:
    """A running hub, its instructor API, the learners, and their open kernels."""

    hub: RunningHub
    api: HubAPI
    learners: list[Learner]
    loop: asyncio.AbstractEventLoop
    kernels: dict[str, RemoteKernel] = field(default_factory=dict)

    @property
    def names(self) -> list[str]:
        return [learner.name for learner in self.learners]

    def learner(self, name: str) -> Learner:
        return next(learner for learner in self.learners if learner.name == name)

    def run(self, coro):
        """Run a coroutine on the rehearsal's one event loop (kernels' websockets live there)."""
        return self.loop.run_until_complete(coro)

    def kernel(self, name: str) -> RemoteKernel:
        """The learner's open kernel, started on first use."""
        if name not in self.kernels or self.kernels[name].kernel_id is None:
            kernel = RemoteKernel(self.hub.url, name, self.hub.settings.instructor_token)
            self.run(kernel.start())
            self.kernels[name] = kernel
        return self.kernels[name]

    def execute(self, name: str, code: str) -> list:
        """Run ``code`` in the learner's kernel; its outputs."""
        return self.run(self.kernel(name).execute(code))

    def run_notebooks(
        self, notebooks: dict[str, nbformat.NotebookNode], sample_every: float = 0.5
    ) -> tuple[dict, dict[str, nbformat.NotebookNode]]:
        """Each learner runs their notebook in a new kernel, all at the same time.

        Returns the usage figures (:class:`UsageSampler`'s report, with each learner's
        ``notebook_s`` added) and the executed notebooks. A learner whose run failed
        raises after every run has ended.
        """
        for name in notebooks:  # a fresh kernel each, as "Restart and run all"
            if name in self.kernels:
                self.run(self.kernels.pop(name).shutdown())

        async def one(name: str, nb: nbformat.NotebookNode) -> float:
            kernel = RemoteKernel(self.hub.url, name, self.hub.settings.instructor_token)
            await kernel.start()
            self.kernels[name] = kernel
            return await kernel.run_notebook(nb)

        async def all_at_once() -> list:
            runs = (one(name, nb) for name, nb in notebooks.items())
            return await asyncio.gather(*runs, return_exceptions=True)

        uids = {name: self.learner(name).uid for name in notebooks}
        with UsageSampler(uids, interval=sample_every) as usage:
            results = self.run(all_at_once())
        for result in results:
            if isinstance(result, BaseException):
                raise result
        report = usage.report()
        for name, seconds in zip(notebooks, results, strict=True):
            report["learners"][name]["notebook_s"] = round(seconds, 1)
        return report, notebooks

    def detach_all(self) -> None:
        for kernel in self.kernels.values():
            kernel.detach()


@contextlib.contextmanager
def rehearsal(
    source: Path, learners: int = 3, env_root: Path | None = None, **hub_options
) -> Iterator[Rehearsal]:
    """Build the environment, make ``learners`` accounts, start the hub; undo it all after.

    ``hub_options`` go to :class:`HubSettings` (cull timeout, activity interval...).
    """
    env = build_hub_environment(source, **({"root": env_root} if env_root else {}), log=_quiet)
    accounts = create_learners(learners)
    run_dir = Path(tempfile.mkdtemp(prefix="poollab-hub-"))
    loop = asyncio.new_event_loop()
    hub = None
    try:
        settings = HubSettings(
            environment=env,
            run_dir=run_dir,
            learners=[a.name for a in accounts],
            **hub_options,
        )
        hub = RunningHub.start(settings)
        class_ = Rehearsal(hub, hub.api(), accounts, loop)
        try:
            yield class_
        finally:
            class_.detach_all()
            class_.api.close()
    finally:
        if hub is not None:
            hub.stop()  # stops every learner's server first
        loop.close()
        remove_learners(accounts)
        shutil.rmtree(run_dir, ignore_errors=True)


def _quiet(*args: object) -> None:
    pass
