"""The Ansible-style YAML inventory `psfleet sim --inventory PATH` writes."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import yaml


class _Host(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def address(self) -> str: ...
    @property
    def port(self) -> int: ...


def inventory_document(hosts: Sequence[_Host], *, cluster: str | None, tls: bool) -> dict[str, Any]:
    host_vars: dict[str, dict[str, Any]] = {}
    for host in hosts:
        entry: dict[str, Any] = {"ansible_host": host.address, "ansible_port": host.port}
        if tls:
            entry["ansible_winrm_scheme"] = "https"
        host_vars[host.name] = entry
    document: dict[str, Any] = {"all": {"hosts": host_vars}}
    if cluster:
        document["all"]["children"] = {cluster: {"hosts": {h.name: None for h in hosts}}}
    return document


def write_inventory(path: Path, hosts: Sequence[_Host], *, cluster: str | None, tls: bool) -> None:
    """Written to a temporary file then renamed, so a reader never sees half of it."""
    text = yaml.safe_dump(inventory_document(hosts, cluster=cluster, tls=tls), sort_keys=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)
