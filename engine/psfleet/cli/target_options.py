"""Which hosts: the TARGETS argument and --inventory, as every command names them."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

Targets = Annotated[
    list[str] | None,
    typer.Argument(
        help="Hosts: names, a,b,c lists, node[01-64] ranges, @file, inventory patterns."
    ),
]
Inventory = Annotated[
    Path | None,
    typer.Option(help="Ansible-style YAML/INI inventory; TARGETS may then name its groups."),
]
Host = Annotated[str, typer.Argument(help="The host: a name, an address or an inventory name.")]
