"""Target: one host to connect to, with its inventory variables; secrets never show in repr."""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final, Literal, final

from psfleet.errors import UsageError

VarValue = str | int | bool
Scheme = Literal["http", "https"]

HTTP_PORT: Final = 5985
HTTPS_PORT: Final = 5986

_SECRET_SUFFIXES = ("password", "passwd", "pass", "secret", "token")
_PASSWORD_VARS = ("ansible_password", "ansible_winrm_password", "ansible_winrm_pass")


def is_secret_var(name: str) -> bool:
    """Variables whose values must never be printed (ansible_password, *_token, ...)."""
    return name.casefold().endswith(_SECRET_SUFFIXES)


@final
class Secret:
    """A string that shows as '********' in repr, str, f-strings, logs and tracebacks."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The real value: call this only where it is sent to the authenticator."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        return hmac.compare_digest(self._value.encode(), other._value.encode())

    def __hash__(self) -> int:
        return hash(self._value)


def _no_vars() -> Mapping[str, VarValue]:
    return MappingProxyType({})


def _no_secrets() -> Mapping[str, Secret]:
    return MappingProxyType({})


@dataclass(frozen=True, slots=True)
class Target:
    """One host. `name` is how the user or inventory names it (display, Kerberos SPN,
    CredSSP allowlist); `address` is where to connect (ansible_host, or the name).

    Secret-looking vars passed in `vars` are moved into `secrets` as `Secret` values,
    whatever way the Target was built, so printing a Target never leaks a password.
    """

    name: str
    address: str
    port: int | None = None
    vars: Mapping[str, VarValue] = field(default_factory=_no_vars, hash=False)
    secrets: Mapping[str, Secret] = field(default_factory=_no_secrets, hash=False)

    def __post_init__(self) -> None:
        plain: dict[str, VarValue] = {}
        secrets = dict(self.secrets)
        for key, value in self.vars.items():
            if is_secret_var(key):
                secrets[key] = value if isinstance(value, Secret) else Secret(str(value))
            else:
                plain[key] = value
        object.__setattr__(self, "vars", MappingProxyType(plain))
        object.__setattr__(self, "secrets", MappingProxyType(secrets))
        if self.port is not None and not 0 < self.port < 65536:
            raise UsageError(f"port {self.port} is out of range 1-65535", host=self.name)
        _ = self.scheme  # validate now, before anything runs

    def __reduce__(self) -> tuple[type[Target], tuple[object, ...]]:
        # mappingproxy cannot be pickled; rebuild from plain dicts (multiprocessing workers).
        return (Target, (self.name, self.address, self.port, dict(self.vars), dict(self.secrets)))

    @classmethod
    def from_vars(
        cls, name: str, vars: Mapping[str, VarValue], *, default_port: int | None = None
    ) -> Target:
        """A target as an inventory describes it: ansible_host; ansible_port over the default."""
        address = str(vars.get("ansible_host", name))
        port = default_port
        if "ansible_port" in vars:
            port = _parse_port(vars["ansible_port"], name)
        return cls(name, address, port, vars)

    @property
    def user(self) -> str | None:
        value = self.vars.get("ansible_user")
        return None if value is None else str(value)

    @property
    def password(self) -> Secret | None:
        return next((self.secrets[k] for k in _PASSWORD_VARS if k in self.secrets), None)

    @property
    def auth(self) -> str | None:
        """psfleet_auth, else ansible_winrm_transport, lower-cased; None: the transport chooses."""
        value = self.vars.get("psfleet_auth", self.vars.get("ansible_winrm_transport"))
        return None if value is None else str(value).lower()

    @property
    def scheme(self) -> Scheme | None:
        """ansible_winrm_scheme as given; None when the inventory does not say."""
        value = self.vars.get("ansible_winrm_scheme")
        if value is None:
            return None
        scheme = str(value).lower()
        if scheme == "http":
            return "http"
        if scheme == "https":
            return "https"
        raise UsageError(
            f"ansible_winrm_scheme must be http or https, not {value!r}", host=self.name
        )

    @property
    def effective_scheme(self) -> Scheme:
        """The scheme, else https on port 5986 and http otherwise."""
        return self.scheme or ("https" if self.port == HTTPS_PORT else "http")

    @property
    def effective_port(self) -> int:
        """The port, else 5986 for https and 5985 for http (WinRM's defaults)."""
        if self.port is not None:
            return self.port
        return HTTPS_PORT if self.effective_scheme == "https" else HTTP_PORT

    @property
    def url(self) -> str:
        """The WSMan endpoint, e.g. http://127.1.0.1:5985/wsman."""
        return f"{self.effective_scheme}://{self.address}:{self.effective_port}/wsman"


def _parse_port(value: VarValue, host: str) -> int:
    if isinstance(value, bool) or not str(value).strip().isdigit():
        raise UsageError(f"ansible_port must be a number, not {value!r}", host=host)
    return int(value)
