"""Ray as the executor of independent work: generation shards and study points (``beamsim[ray]``).

beamsim schedules nothing itself: it hands Ray one task per shard or per uncached point, each
declaring the CPUs (and the GPU, with ``device="cuda"``) it needs, and collects the results in
the driver, which alone writes files. :func:`ray_session` connects to a running cluster
(``address``) or starts a local Ray instance that stops with the command. Ray is imported only
here and only when asked for: ``import beamsim`` never imports it.

An error in a task reaches the caller as the task's own exception (a ``ScenarioError`` stays a
``ScenarioError``, one line at the command line); the other tasks are cancelled.
"""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from beamsim.errors import BackendUnavailableError, BeamsimError

__all__ = ["EXECUTORS", "TaskResources", "import_ray", "ray_session", "run_tasks"]

#: The executors of ``--executor``: in this process, or as Ray tasks.
EXECUTORS = ("serial", "ray")

#: Errors of bad input or environment, re-raised as themselves when a task fails with one.
_INPUT_ERRORS = (BeamsimError, ValueError, OSError)


def import_ray() -> Any:
    """The ``ray`` module, or one clear error when the extra is not installed."""
    try:
        import ray
    except ImportError as exc:
        raise BackendUnavailableError("--executor ray needs Ray: pip install 'beamsim[ray]'") from exc
    return ray


@dataclass(frozen=True)
class TaskResources:
    """What each task declares to Ray's scheduler.

    Attributes:
        cpus: CPU cores per task (what Ray reserves for it).
        gpus: GPUs per task (1 with ``device = "cuda"``, else 0).
        threads: torch threads inside each task. Float sums can round differently with another
            thread count, so :meth:`for_device` uses the driver's own: a task then computes the
            bytes a single process computes on the same kind of machine.
    """

    cpus: int = 1
    gpus: int = 0
    threads: int = 1

    def __post_init__(self) -> None:
        if self.cpus < 1:
            raise ValueError(f"--cpus-per-task must be >= 1, not {self.cpus}")
        if self.threads < 1:
            raise ValueError(f"threads per task must be >= 1, not {self.threads}")

    @classmethod
    def for_device(cls, device: str, cpus: int = 1) -> "TaskResources":
        """``cpus`` cores, one GPU per task when ``device`` asks for CUDA (none for ``cpu`` or
        ``auto``), and this process's torch thread count."""
        import torch

        return cls(cpus=cpus, gpus=1 if str(device).startswith("cuda") else 0, threads=torch.get_num_threads())


@contextlib.contextmanager
def ray_session(address: str | None = None, num_cpus: int | None = None) -> Iterator[Any]:
    """Ray, initialised for the block: the cluster at ``address``, or a local instance.

    A local instance (``address`` None) gets ``num_cpus`` cores (default: all of this machine's)
    and is shut down on exit. When the caller already initialised Ray, that session is used and
    left running.
    """
    ray = import_ray()
    if address is not None:
        _check_reachable(address)
    if ray.is_initialized():
        yield ray
        return
    kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False, "configure_logging": False}
    if address is None:
        kwargs["num_cpus"] = num_cpus or os.cpu_count() or 1
    try:
        ray.init(address=address, **kwargs)
    except ConnectionError as exc:
        raise BackendUnavailableError(f"cannot reach the Ray cluster at {address!r}: {exc}") from exc
    try:
        yield ray
    finally:
        ray.shutdown()


#: Seconds to wait for a TCP connection to a cluster's head before giving up.
CONNECT_TIMEOUT_S = 5.0


def _check_reachable(address: str) -> None:
    """Refuse a ``HOST:PORT`` address nothing answers at, in one line (``ray.init`` would retry
    for minutes). ``auto`` and ``ray://`` addresses are left to Ray."""
    host, sep, port = address.rpartition(":")
    if address == "auto" or "://" in address or not sep or not port.isdigit():
        return
    try:
        socket.create_connection((host, int(port)), timeout=CONNECT_TIMEOUT_S).close()
    except OSError as exc:
        raise BackendUnavailableError(f"cannot reach the Ray cluster at {address}: {exc.strerror or exc}; "
                                      "is `ray start --head` running there?") from None


def _call(fn: Callable, threads: int, args: tuple) -> Any:
    """Run ``fn(*args)`` in a Ray worker with torch at ``threads`` threads."""
    import torch

    torch.set_num_threads(threads)
    return fn(*args)


def run_tasks(ray: Any, fn: Callable, arguments: Sequence[tuple], resources: TaskResources,
              done: Callable[[int, Any], None] | None = None) -> list[Any]:
    """Run ``fn(*args)`` for every ``args`` as Ray tasks; their results, in the given order.

    Args:
        ray: the initialised ``ray`` module (:func:`ray_session`).
        fn: a module-level function (Ray pickles it by reference).
        arguments: one tuple of arguments per task.
        resources: what each task declares.
        done: called in the driver as ``done(index, result)`` when a task finishes, in the
            order they finish (write results there to keep them if a later task fails).

    Raises:
        the first failed task's own exception when it is one of bad input (``BeamsimError``,
        ``ValueError``, ``OSError``), else Ray's ``RayTaskError`` with the task's traceback;
        the other tasks are cancelled.
    """
    remote = ray.remote(_call).options(num_cpus=resources.cpus, num_gpus=resources.gpus, max_retries=0)
    pending = {remote.remote(fn, resources.threads, tuple(args)): i for i, args in enumerate(arguments)}
    results: list[Any] = [None] * len(pending)
    try:
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            index = pending.pop(ready[0])
            try:
                results[index] = ray.get(ready[0])
            except ray.exceptions.RayTaskError as exc:
                cause = getattr(exc, "cause", None)
                if isinstance(cause, _INPUT_ERRORS):  # bad input: its own one-line error
                    raise cause from None
                raise  # a bug: Ray's error carries the task's traceback
            if done is not None:
                done(index, results[index])
    finally:
        for ref in pending:
            ray.cancel(ref, force=True)
    return results
