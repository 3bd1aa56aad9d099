"""The Dask executor (the optional extra psfleet[dask]); dask is imported only when used."""

from psfleet.fanout.ondask.executor import DaskExecutor, require_dask

__all__ = ["DaskExecutor", "require_dask"]
