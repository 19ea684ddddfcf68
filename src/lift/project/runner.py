"""``DaskRunner``: the project's pipelines on a Dask cluster.

    kedro run --pipelines=classification --runner=lift.project.runner.DaskRunner
    kedro run ... --runner=lift.project.runner.DaskRunner --runner-params=address=tcp://host:8786

Kedro schedules the nodes as its parallel runners do (a node is submitted once the nodes it
depends on are done); each node is one Dask task that a worker process runs: it loads the
node's inputs from the catalog, runs it and saves its outputs to the catalog. Artifacts
therefore never pass through the scheduler, and every one must be a file on storage all
workers see (``data_root`` in conf/base/globals.yml; docs/how-to/cluster.md). Nodes
that run the language model (tags ``training`` and ``prediction``) go to workers started with a
``GPU`` resource where the cluster has any. The scheduler's address: ``address``, else
``LIFT_DASK_SCHEDULER``, else a local cluster of worker processes on this machine. Each task
is named after its node (the Dask dashboard shows which node runs where). A worker lost in the
middle of a node (killed, its machine gone) costs that node's work only: the scheduler runs
the task again on another worker, up to its ``allowed_failures`` (3 by default), which first
removes any version of the node's outputs the lost attempt had saved, whole or half.

Node and dataset hooks run in the driver only around the whole run (as with Kedro's
``ParallelRunner``): each node's seconds come back from the workers to the run's timings
(``run_timings``, the summary printed at the end), and the lineage
of artifacts (``lift.project.lineage``) is neither checked nor recorded for a cluster run."""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Executor, Future
from typing import Any

from kedro.io import MemoryDataset
from kedro.runner import AbstractRunner
from kedro.runner.task import Task

from lift.config.errors import DatasetInputError, optional
from lift.method.language_model import THREADS, cores_each
from lift.project import storage
from lift.project.hooks import RunSummary

logger = logging.getLogger(__name__)

SCHEDULER = "LIFT_DASK_SCHEDULER"  # the environment variable of the scheduler's address
GPU_TAGS = frozenset({"training", "prediction"})  # nodes that run the language model
LOCAL_WORKERS = 2  # worker processes of the local cluster started without an address


def run_on_worker(task: Task) -> tuple[Any, float]:
    """Run ``task`` (a node with its catalog) in a Dask worker: its node, and its seconds."""
    from kedro.framework.hooks.manager import _create_hook_manager

    task.hook_manager = _create_hook_manager()  # the worker's own: no plugin's hooks
    _clear_lost_attempt(task)
    started = time.perf_counter()
    node = task.execute()
    return node, time.perf_counter() - started


def _clear_lost_attempt(task: Task) -> None:
    """Remove what an earlier attempt of ``task`` saved before its worker was lost: in a run,
    only this node writes its outputs' versions, so a version already there is that attempt's
    (whole or half), and Kedro would refuse to save over it."""
    for name in task.node.outputs:
        found = storage.artifact(task.catalog, name)
        if found is None or not found.versioned:
            continue
        path = found.at(found.saved_version(task.catalog, name))
        if found.fs.exists(path):
            logger.warning(
                "%s: removing %s, saved by an earlier attempt of node %s on a worker that was "
                "lost; the node runs again",
                name,
                found.url(path),
                task.node.name,
            )
            found.fs.rm(path, recursive=True)


def refuses(address: str) -> None:
    """Raise ``OSError`` (refused, no such host) where nothing listens at a ``tcp://host:port``
    address (or ``host:port``); other addresses and a listener slow to answer are left to Dask's
    client."""
    scheme, _, place = address.rpartition("://")
    host, _, port = place.rpartition(":")
    if scheme in ("", "tcp") and host and port.isdigit():
        try:
            socket.create_connection((host.strip("[]"), int(port)), timeout=5).close()
        except TimeoutError:
            return


class DaskExecutor(Executor):
    """The ``concurrent.futures`` face of a Dask client that Kedro's scheduling loop uses:
    ``submit(task)`` runs a node's task on the cluster."""

    def __init__(self, address: str | None, done: Callable[[Any, float], None]) -> None:
        distributed = optional("distributed", "The Dask runner")
        Client, LocalCluster = distributed.Client, distributed.LocalCluster

        self._cluster = None
        if address:
            try:
                refuses(address)  # at once, where a client would retry for its whole timeout
                self._client = Client(address, timeout="20s")
            except (OSError, TimeoutError) as error:
                raise DatasetInputError(
                    f"No Dask scheduler answered at {address} (the runner's `address`, or "
                    f"{SCHEDULER}): start one there (`dask scheduler`) with its workers "
                    "(`dask worker <address>`), or leave the address out for a local cluster."
                ) from error
        else:
            self._cluster = LocalCluster(
                n_workers=LOCAL_WORKERS,
                threads_per_worker=1,
                processes=True,
                # the workers share this machine's cores
                env={THREADS: str(cores_each(LOCAL_WORKERS))},
            )
            self._client = Client(self._cluster)
        workers = self._client.scheduler_info()["workers"].values()
        gpus = any("GPU" in worker.get("resources", {}) for worker in workers)
        logger.info(
            "Dask cluster %s: %d workers%s",
            self._client.scheduler.address,
            len(workers),
            ", the language model's nodes on those with a GPU" if gpus else "",
        )
        self._gpus = gpus
        self._done = done  # told of each node that ended, and its seconds

    def submit(self, task: Task, /, *args: Any, **kwargs: Any) -> Future:  # type: ignore[override]
        task.hook_manager = None  # a plugin manager cannot travel; the worker makes its own
        gpu = self._gpus and bool(GPU_TAGS & set(task.node.tags))
        remote = self._client.submit(
            run_on_worker,
            task,
            key=f"{task.node.name}-{uuid.uuid4().hex}",  # the node's name on the dashboard
            pure=False,
            resources={"GPU": 1} if gpu else None,
        )
        done: Future = Future()

        def finished(future: Future) -> None:
            try:
                node, seconds = future.result()
            except BaseException as error:  # the node's own error, raised by Kedro's loop
                done.set_exception(error)
                return
            self._done(node, seconds)
            done.set_result(node)

        remote.add_done_callback(finished)
        return done

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self._client.close()
        if self._cluster is not None:
            self._cluster.close()


class DaskRunner(AbstractRunner):
    """Kedro's runner on a Dask cluster (see the module's docstring)."""

    def __init__(self, is_async: bool = False, address: str | None = None) -> None:
        super().__init__(is_async=is_async)
        self._address = address or os.environ.get(SCHEDULER) or None
        self.timings: dict[str, float] = {}  # seconds per node of the last run
        self._summaries: list[RunSummary] = []  # the run's summary hooks: timings per phase

    def _get_executor(self, max_workers: int) -> Executor:
        self.timings = {}

        def done(node: Any, seconds: float) -> None:
            self.timings[node.name] = seconds
            for summary in self._summaries:
                summary.record(node, seconds)

        return DaskExecutor(self._address, done)

    def _run(
        self,
        pipeline: Any,
        catalog: Any,
        hook_manager: Any = None,
        run_id: str | None = None,
    ) -> None:
        made_in_memory = sorted(
            name
            for name in pipeline.all_outputs() - pipeline.outputs()
            if isinstance(catalog.get(name, fallback_to_runtime_pattern=True), MemoryDataset)
        )
        if made_in_memory:
            raise DatasetInputError(
                f"The Dask runner passes artifacts between nodes through storage, and "
                f"{made_in_memory} would stay in one worker's memory: declare them in "
                "conf/base/catalog.yml (under `data_root`), or run with the default runner."
            )
        plugins = hook_manager.get_plugins() if hook_manager is not None else ()
        self._summaries = [plugin for plugin in plugins if isinstance(plugin, RunSummary)]
        super()._run(pipeline, catalog, hook_manager, run_id)
        logger.info(
            "Dask run: %d nodes, %.0f s of node time on the workers",
            len(self.timings),
            sum(self.timings.values()),
        )
