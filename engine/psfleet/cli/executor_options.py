"""Where `psfleet run` runs its hosts: --executor local|dask|local-cluster and its settings.

The cluster is connected (or a LocalCluster started) before the run's event loop starts
and closed after it: both block on the network or on process start-up.
"""

from __future__ import annotations

import contextlib
import enum
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated, Any

import typer

from psfleet.errors import UsageError
from psfleet.fanout.executor import Executor, LocalExecutor
from psfleet.fanout.ondask import DaskExecutor, require_dask
from psfleet.fanout.ondask.local_cluster import local_cluster_settings
from psfleet.fanout.options import RunOptions
from psfleet.transport.options import ENV_PASSWORD

_EXECUTOR_HELP = (
    "local (this process), dask (the cluster at --scheduler) or local-cluster (--workers "
    "processes here); Dask needs psfleet[dask], and --throttle is then per worker. With dask, "
    f"psfleet never asks for a password: each worker reads its own ${ENV_PASSWORD} (or "
    "--password-file, a path on the worker)."
)


class ExecutorKind(enum.StrEnum):
    LOCAL = "local"
    DASK = "dask"
    LOCAL_CLUSTER = "local-cluster"


@dataclass(frozen=True, slots=True)
class ExecutorArgs:
    executor: Annotated[ExecutorKind, typer.Option(help=_EXECUTOR_HELP)] = ExecutorKind.LOCAL
    scheduler: Annotated[
        str | None, typer.Option(help="--executor dask: the scheduler, tcp://HOST:8786.")
    ] = None
    workers: Annotated[
        int, typer.Option(min=1, help="--executor local-cluster: worker processes.")
    ] = 2
    chunk_size: Annotated[
        int | None,
        typer.Option(min=1, help="Hosts per Dask task (default: from --throttle and workers)."),
    ] = None

    def password_use(self, *, cluster: bool = False, unloaded: int = 0) -> dict[str, Any]:
        """How ConnectionArgs.run_options reads the password for this executor.

        Dask workers read their own password and a typed one never reaches them, so with
        --executor dask nothing prompts: the client holds no password unless something it
        does itself connects to a host (--cluster resolves its nodes, bench's --unloaded
        probes), and then takes it from --password-file or the environment.
        """
        if self.executor is not ExecutorKind.DASK:
            return {}
        if cluster:
            needed_here = "--cluster resolves its nodes from this machine"
        elif unloaded:
            needed_here = (
                f"--unloaded {unloaded} probes hosts from this machine (--unloaded 0: none)"
            )
        else:
            return {"password_on_workers": True}
        return {
            "no_prompt": (
                f"--executor dask never asks for a password, but {needed_here}: set "
                f"${ENV_PASSWORD} or give --password-file here too (each worker reads its own)"
            )
        }


@contextlib.contextmanager
def open_executor(
    args: ExecutorArgs, options: RunOptions, password_file: str | None
) -> Iterator[Executor]:
    """The executor for the run; a cluster it started (or a client it opened) closes after."""
    if args.executor is ExecutorKind.LOCAL:
        yield LocalExecutor()
        return
    require_dask()
    from distributed import Client, LocalCluster  # noqa: PLC0415 (the optional extra)

    credential = options.client.auth.credential
    if args.executor is ExecutorKind.DASK:
        if args.scheduler is None:
            raise UsageError("--executor dask needs --scheduler tcp://HOST:8786")
        with Client(args.scheduler) as client:
            yield DaskExecutor(
                client,
                chunk_size=args.chunk_size,
                password_file=password_file,
                password_on_workers=True,  # without_secrets: only for a credential with a user
            )
        return
    prompted = (
        credential is not None
        and credential.password is not None
        and password_file is None
        and ENV_PASSWORD not in os.environ
    )
    # This machine's workers: a typed password goes into their environment, not the tasks.
    env = {ENV_PASSWORD: credential.password} if prompted and credential is not None else {}
    with (
        local_cluster_settings(),
        LocalCluster(
            n_workers=args.workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            env=env,
        ) as cluster,
        Client(cluster) as client,
    ):
        yield DaskExecutor(client, chunk_size=args.chunk_size, password_file=password_file)
