"""A real MIT Kerberos KDC in a temporary directory, for tests and the simulator.

    with MitKdc(password="Passw0rd!", hosts=["node01", "node02"]) as kdc:
        kdc.kinit()                      # forwardable TGT for admin@LAB.TEST
        with kdc.applied_env():          # gssapi reads KRB5_* from os.environ
            ...                          # spnego.client(hostname="node01", service="HTTP", ...)

Everything runs from the Debian packages (krb5-kdc, krb5-admin-server, krb5-user):
`kdb5_util` creates the database, `kadmin.local` adds principals and writes the
service keytab, `krb5kdc -n` serves on a free loopback port. Every subprocess
is bounded by a timeout and started in its own session (no controlling tty, so
the tools read passwords from stdin). Passwords travel on stdin only, never on
a command line, and never appear in reprs or exception messages.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import weakref
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import TracebackType
from typing import Self

__all__ = ["MitKdc", "MitKdcError", "available", "missing_binaries"]

_BINARIES = ("kdb5_util", "kadmin.local", "krb5kdc", "kinit")
# Debian installs the admin tools in /usr/sbin, which is not on every user's PATH.
_SEARCH_PATH = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])
_ENV_KEYS = (
    "KRB5_CONFIG",
    "KRB5_KDC_PROFILE",
    "KRB5_KTNAME",
    "KRB5CCNAME",
    "KRB5RCACHEDIR",
)
# Host names go into kadmin.local's stdin: allow nothing that could end a command.
_HOST_RE = re.compile(r"[a-z0-9](?:[a-z0-9.-]{0,251}[a-z0-9])?")
_PRINCIPAL_RE = re.compile(r"[A-Za-z0-9._/-]+(?:@[A-Za-z0-9.-]+)?")
# A FILE keytab is appended by scanning it to the end, so one big ktadd is
# quadratic (25 s for 10 000 principals); small chunk files regrouped are linear.
_KTADD_CHUNK = 256
_KEYTAB_HEADER = b"\x05\x02"
_ENCTYPE = "aes256-cts-hmac-sha1-96"


def _keytab_entries(data: bytes, label: str) -> Iterator[bytes]:
    """Each entry of a version 2 keytab, with its 4-byte length prefix."""
    if data[:2] != _KEYTAB_HEADER:
        raise MitKdcError(f"unexpected keytab format in {label}")
    pos = 2
    while pos < len(data):
        size = int.from_bytes(data[pos : pos + 4], "big", signed=True)
        # A negative size marks a deleted entry (a hole) of that many bytes.
        if size > 0:
            yield data[pos : pos + 4 + size]
        pos += 4 + abs(size)


def _entry_host(entry: bytes) -> str:
    """The second component of the entry's principal (the host of HTTP/<host>)."""
    pos = 4 + 2  # length, number of components
    pos += 2 + int.from_bytes(entry[pos : pos + 2], "big")  # realm
    pos += 2 + int.from_bytes(entry[pos : pos + 2], "big")  # first component: HTTP
    size = int.from_bytes(entry[pos : pos + 2], "big")
    return entry[pos + 2 : pos + 2 + size].decode()


class MitKdcError(RuntimeError):
    """A KDC tool failed or timed out. The message never contains a password."""


def missing_binaries() -> list[str]:
    """The MIT tools this fixture needs that are not installed."""
    return [name for name in _BINARIES if shutil.which(name, path=_SEARCH_PATH) is None]


def available() -> bool:
    """True when the Debian MIT Kerberos tools are installed."""
    return not missing_binaries()


def _tool(name: str) -> str:
    path = shutil.which(name, path=_SEARCH_PATH)
    if path is None:
        raise MitKdcError(
            f"{name} not found: install krb5-kdc krb5-admin-server krb5-user (`make test` does)"
        )
    return path


def _free_port() -> int:
    # The KDC listens on UDP and TCP with the same number; take one free in both.
    for _ in range(50):
        with (
            socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp,
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp,
        ):
            tcp.bind(("127.0.0.1", 0))
            port: int = tcp.getsockname()[1]
            try:
                udp.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise MitKdcError("no free loopback port for the KDC")


def _stop_process(proc: subprocess.Popen[bytes]) -> None:
    """Stop the process group we created for proc; escalate to SIGKILL."""
    if proc.poll() is None:
        for sig, grace in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, sig)
            try:
                proc.wait(timeout=grace)
                break
            except subprocess.TimeoutExpired:
                continue
    # Reap even when it had exited on its own, so no zombie remains.
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=1.0)


def _cleanup(proc: subprocess.Popen[bytes] | None, workdir: Path | None) -> None:
    if proc is not None:
        _stop_process(proc)
    if workdir is not None:
        shutil.rmtree(workdir, ignore_errors=True)


class MitKdc:
    """An MIT KDC for one realm, with a user principal and HTTP/<host> service principals.

    Use as a context manager (or call `start()` / `stop()`); `stop()` always stops
    the KDC and removes the temporary directory, and a failed `start()` cleans up
    before raising. Not thread-safe: drive one instance from one thread.
    """

    def __init__(
        self,
        *,
        password: str | None = None,
        user: str = "admin",
        realm: str = "LAB.TEST",
        domain: str = "lab.test",
        hosts: Iterable[str] = (),
        timeout: float = 30.0,
    ) -> None:
        self.realm = realm
        self.domain = domain.lower()
        self.principal = f"{user}@{realm}"
        # A random password when none is given; kinit() uses it by default.
        self.password = password if password is not None else secrets.token_urlsafe(18)
        self.timeout = timeout
        self.port = 0
        self.workdir = Path()
        self.env: dict[str, str] = {}
        self._initial_hosts = list(hosts)
        self._hosts: set[str] = set()
        self._host_entries: dict[str, list[bytes]] = {}  # keytab entries by host name
        self._proc: subprocess.Popen[bytes] | None = None
        self._saved_env: list[dict[str, str | None]] = []
        self._finalizer: (
            weakref.finalize[[subprocess.Popen[bytes] | None, Path | None], MitKdc] | None
        ) = None

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return (
            f"MitKdc(realm={self.realm!r}, principal={self.principal!r}, port={self.port}, "
            f"hosts={len(self._hosts)}, {state})"
        )

    # Paths inside the temporary directory.
    @property
    def krb5_conf(self) -> Path:
        return self.workdir / "krb5.conf"

    @property
    def kdc_conf(self) -> Path:
        return self.workdir / "kdc.conf"

    @property
    def keytab(self) -> Path:
        """The service keytab holding every HTTP/<host> key (also KRB5_KTNAME)."""
        return self.workdir / "http.keytab"

    @property
    def ccache(self) -> Path:
        """The FILE ccache kinit() fills by default (also KRB5CCNAME)."""
        return self.workdir / "ccache"

    @property
    def log_file(self) -> Path:
        return self.workdir / "kdc.log"

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def hosts(self) -> frozenset[str]:
        """Host names that have HTTP/<name> and HTTP/<name>.<domain> principals."""
        return frozenset(self._hosts)

    def service_principals(self, name: str) -> tuple[str, str]:
        """The two SPNs registered for an inventory name."""
        host = name.lower()
        return (f"HTTP/{host}@{self.realm}", f"HTTP/{host}.{self.domain}@{self.realm}")

    # Lifecycle.
    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> None:
        """Create the realm, add the principals, start krb5kdc and wait until it answers."""
        if self._finalizer is not None:
            raise MitKdcError("MitKdc already started")
        self.workdir = Path(tempfile.mkdtemp(prefix="psfleet-kdc-"))
        # Runs at stop() or, failing that, at interpreter exit: no KDC outlives its test run.
        self._finalizer = weakref.finalize(self, _cleanup, None, self.workdir)
        try:
            self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self) -> None:
        self.port = _free_port()
        self.env = {
            "KRB5_CONFIG": str(self.krb5_conf),
            "KRB5_KDC_PROFILE": str(self.kdc_conf),
            "KRB5_KTNAME": f"FILE:{self.keytab}",
            "KRB5CCNAME": f"FILE:{self.ccache}",
            # Acceptor replay caches go here instead of /var/tmp.
            "KRB5RCACHEDIR": str(self.workdir),
        }
        self._write_configs()
        master = secrets.token_urlsafe(24)
        self._run(
            [_tool("kdb5_util"), "create", "-s", "-r", self.realm],
            stdin=f"{master}\n{master}\n",
            secret=master,
        )
        self.add_user(self.principal, self.password)
        self.add_hosts(self._initial_hosts)
        self._start_kdc()

    def _write_configs(self) -> None:
        wd = self.workdir
        self.krb5_conf.write_text(
            f"""[libdefaults]
    default_realm = {self.realm}
    dns_lookup_kdc = false
    dns_lookup_realm = false
    rdns = false
    dns_canonicalize_hostname = false
    # Do not append the resolv.conf search domain to short names like node01.
    qualify_shortname = ""
    forwardable = true
    # TCP only: no UDP retransmit timers, no KRB_ERR_RESPONSE_TOO_BIG retry.
    udp_preference_limit = 1
    default_ccache_name = FILE:{self.ccache}
    default_keytab_name = FILE:{self.keytab}

[realms]
    {self.realm} = {{
        kdc = 127.0.0.1:{self.port}
    }}

[domain_realm]
    .{self.domain} = {self.realm}
    {self.domain} = {self.realm}
"""
        )
        (wd / "kadm5.acl").write_text("")
        self.kdc_conf.write_text(
            f"""[kdcdefaults]
    kdc_listen = 127.0.0.1:{self.port}
    kdc_tcp_listen = 127.0.0.1:{self.port}

[realms]
    {self.realm} = {{
        database_name = {wd / "principal"}
        key_stash_file = {wd / "stash"}
        acl_file = {wd / "kadm5.acl"}
        master_key_type = {_ENCTYPE}
        # One enctype: half the keys to generate and store per principal.
        supported_enctypes = {_ENCTYPE}:normal
        max_life = 10h
        max_renewable_life = 7d
    }}

[logging]
    kdc = FILE:{self.log_file}
    admin_server = FILE:{wd / "kadmin.log"}
    default = FILE:{wd / "krb5lib.log"}
"""
        )

    def _start_kdc(self) -> None:
        log = self.log_file.open("ab")
        try:
            self._proc = subprocess.Popen(
                [_tool("krb5kdc"), "-n", "-r", self.realm],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self._tool_env(),
                start_new_session=True,
            )
        finally:
            log.close()
        assert self._finalizer is not None
        self._finalizer.detach()
        self._finalizer = weakref.finalize(self, _cleanup, self._proc, self.workdir)
        deadline = time.monotonic() + self.timeout
        while True:
            if self._proc.poll() is not None:
                raise MitKdcError(
                    f"krb5kdc exited with {self._proc.returncode}: {self._log_tail()}"
                )
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5),
            ):
                return
            if time.monotonic() > deadline:
                raise MitKdcError(
                    f"krb5kdc did not accept on 127.0.0.1:{self.port} within {self.timeout}s: "
                    f"{self._log_tail()}"
                )
            time.sleep(0.02)

    def stop(self) -> None:
        """Stop krb5kdc (its process group) and delete the temporary directory. Idempotent."""
        if self._finalizer is not None:
            self._finalizer()
            self._finalizer = None
        self._proc = None

    @property
    def pid(self) -> int | None:
        """krb5kdc's process id while it runs (to watch its CPU, or to pause it)."""
        return self._proc.pid if self._proc is not None else None

    def pause(self) -> None:
        """Freeze krb5kdc (SIGSTOP): connections are accepted by the kernel, never answered."""
        if self._proc is not None:
            os.kill(self._proc.pid, signal.SIGSTOP)

    def resume(self) -> None:
        """Let a paused krb5kdc answer again (SIGCONT)."""
        if self._proc is not None:
            os.kill(self._proc.pid, signal.SIGCONT)

    def log_lines(self, start: int = 0) -> list[str]:
        """The KDC log from byte `start` on (log_size() before a run: only its requests)."""
        with self.log_file.open("rb") as log:
            log.seek(start)
            return log.read().decode(errors="replace").splitlines()

    def log_size(self) -> int:
        return self.log_file.stat().st_size if self.log_file.exists() else 0

    # Principals.
    def add_user(
        self, principal: str, password: str, *, lockout_threshold: int | None = None
    ) -> None:
        """Add a user principal that needs pre-authentication, as an AD account does (a
        wrong password is then refused by the KDC, PREAUTH_FAILED, not by the client).
        With `lockout_threshold`, that many bad passwords lock it (a kadmin policy).
        The password goes on stdin (kadmin prompts twice), so any characters but a
        newline work and it never shows in `ps`.
        """
        if "\n" in password or not _PRINCIPAL_RE.fullmatch(principal):
            raise MitKdcError(f"cannot add user {principal!r}: bad principal or password")
        policy = "-clearpolicy"
        if lockout_threshold is not None:
            policy = f"-policy lockout{lockout_threshold}"
            # -lockoutduration 0: locked until an admin unlocks it, as the strictest domains.
            self._run(
                [
                    _tool("kadmin.local"),
                    "-r",
                    self.realm,
                    "-q",
                    f"addpol -maxfailure {lockout_threshold} -lockoutduration 0 "
                    f"lockout{lockout_threshold}",
                ],
                stdin="",
            )
        # No stderr check with a policy: kadmin warns that a policy may already exist.
        self._run(
            [
                _tool("kadmin.local"),
                "-r",
                self.realm,
                "-q",
                f"addprinc {policy} +requires_preauth {principal}",
            ],
            stdin=f"{password}\n{password}\n",
            secret=password,
            fail_on_stderr=lockout_threshold is None,
        )

    def add_hosts(self, names: Iterable[str]) -> None:
        """Add HTTP/<name> and HTTP/<name>.<domain> for each new name, write both keys
        to keytab_for(name) and append them to the shared keytab. Names are lowercased
        (MIT lowercases host-based SPNs); known names are skipped. The shared keytab is
        replaced atomically, so an acceptor reading it sees the old or the new one.
        """
        new: dict[str, None] = {}  # ordered and O(1) membership for thousands of names
        for name in names:
            host = name.lower()
            if not _HOST_RE.fullmatch(host):
                raise MitKdcError(f"not a valid host name for an SPN: {name!r}")
            if host not in self._hosts:
                new[host] = None
        if not new:
            return
        hosts = list(new)
        spns = [spn for host in hosts for spn in self.service_principals(host)]
        chunks = [spns[i : i + _KTADD_CHUNK] for i in range(0, len(spns), _KTADD_CHUNK)]
        chunk_files = [self.workdir / f"ktadd-{i}.keytab" for i in range(len(chunks))]
        # kadmin.local is mostly syscalls (it reads stdin a byte at a time, fsyncs
        # each write) and the database lock allows concurrent runs: one per CPU halves
        # the time on two cores.
        workers = max(1, min(os.cpu_count() or 1, len(chunks)))
        batches: list[list[str]] = [[] for _ in range(workers)]
        for i, (chunk, path) in enumerate(zip(chunks, chunk_files, strict=True)):
            batch = batches[i % workers]
            batch += [f"addprinc -clearpolicy -randkey {spn}" for spn in chunk]
            # -norandkey: export the key addprinc made instead of rotating it again.
            batch += [f"ktadd -k {path} -norandkey {spn}" for spn in chunk]
        try:
            self._kadmin(batches)
            self._store_keytabs(chunk_files)
        finally:
            for path in chunk_files:
                path.unlink(missing_ok=True)
        self._hosts.update(hosts)

    def keytab_for(self, name: str) -> Path:
        """The keytab with only this host's two keys. An acceptor that names it (gssapi
        store={"keytab": ...}) stays fast at any fleet size, while the shared keytab is
        searched linearly on every accept (about 35-75 ms at 5000 hosts).
        """
        host = name.lower()
        if host not in self._hosts:
            raise MitKdcError(f"no service principals for {name!r}: add_hosts() it first")
        path = self.workdir / "keytabs" / f"{host}.keytab"
        # Written on first use: creating thousands of small files up front costs seconds.
        if not path.exists():
            path.parent.mkdir(exist_ok=True)
            # A unique temp name, so two threads asking at once cannot collide.
            with tempfile.NamedTemporaryFile(dir=path.parent, delete=False) as tmp:
                tmp.write(_KEYTAB_HEADER + b"".join(self._host_entries[host]))
            Path(tmp.name).replace(path)
        return path

    def _store_keytabs(self, parts: list[Path]) -> None:
        """Append the entries of the ktadd outputs to the shared keytab and index them
        by host for keytab_for(). A keytab is a 2-byte version then length-prefixed entries, so
        entries can be regrouped without decoding the keys.
        """
        entries: list[bytes] = []
        suffix = f".{self.domain}"
        for part in parts:
            for entry in _keytab_entries(part.read_bytes(), part.name):
                entries.append(entry)
                host = _entry_host(entry).removesuffix(suffix)
                self._host_entries.setdefault(host, []).append(entry)
        shared = self.keytab.read_bytes() if self.keytab.exists() else _KEYTAB_HEADER
        tmp = self.keytab.with_suffix(".tmp")
        tmp.write_bytes(shared + b"".join(entries))
        tmp.chmod(0o600)
        tmp.replace(self.keytab)

    # Tickets.
    def kinit(
        self,
        principal: str | None = None,
        password: str | None = None,
        *,
        forwardable: bool = True,
        ccache: str | None = None,
    ) -> None:
        """Get a TGT into `ccache` (default: KRB5CCNAME of this KDC), `kinit -f` when
        forwardable (needed for delegation), `kinit -F` otherwise.
        Raises MitKdcError (without the password) when the KDC refuses.
        """
        principal = principal or self.principal
        secret = self.password if password is None else password
        argv = [_tool("kinit"), "-f" if forwardable else "-F"]
        if ccache is not None:
            argv += ["-c", ccache]
        self._run([*argv, principal], stdin=f"{secret}\n", secret=secret)

    # Environment.
    def apply_env(self) -> None:
        """Set this KDC's KRB5_* variables in os.environ (gssapi reads them there);
        restore_env() undoes it. Calls nest.
        """
        self._saved_env.append({key: os.environ.get(key) for key in self.env})
        os.environ.update(self.env)

    def restore_env(self) -> None:
        if not self._saved_env:
            raise MitKdcError("restore_env() without apply_env()")
        for key, value in self._saved_env.pop().items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value

    @contextlib.contextmanager
    def applied_env(self) -> Iterator[Self]:
        """apply_env() for the duration of a with block."""
        self.apply_env()
        try:
            yield self
        finally:
            self.restore_env()

    # Subprocess plumbing.
    def _tool_env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k not in _ENV_KEYS}
        env.update(self.env)
        env["PATH"] = _SEARCH_PATH
        return env

    def _kadmin(self, batches: list[list[str]]) -> None:
        # kadmin.local runs stdin commands in one process; stdout only echoes them.
        longest = max(len(batch) for batch in batches)
        self._run(
            [_tool("kadmin.local"), "-r", self.realm],
            stdin=["\n".join(batch) + "\n" for batch in batches],
            fail_on_stderr=True,
            timeout=self.timeout + longest * 0.01,
        )

    def _run(
        self,
        argv: list[str],
        *,
        stdin: str | list[str],
        secret: str | None = None,
        fail_on_stderr: bool = False,
        timeout: float | None = None,
    ) -> None:
        """Run argv once per stdin text, concurrently, all within one deadline."""
        tool = Path(argv[0]).name
        limit = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + limit
        inputs = [stdin] if isinstance(stdin, str) else stdin
        procs: list[subprocess.Popen[bytes]] = []
        errors: list[str] = []
        try:
            for _ in inputs:
                procs.append(
                    subprocess.Popen(
                        argv,
                        stdin=subprocess.PIPE,
                        stdout=subprocess.DEVNULL,
                        stderr=subprocess.PIPE,
                        env=self._tool_env(),
                        start_new_session=True,
                    )
                )

            def talk(pair: tuple[subprocess.Popen[bytes], str]) -> bytes:
                proc, text = pair
                return proc.communicate(text.encode(), timeout=deadline - time.monotonic())[1]

            # One thread per process: sequential communicate() would leave the
            # others blocked on a full stdin pipe.
            with ThreadPoolExecutor(len(procs)) as pool:
                try:
                    outputs = list(pool.map(talk, zip(procs, inputs, strict=True)))
                except subprocess.TimeoutExpired:
                    raise MitKdcError(f"{tool} timed out after {limit:.1f}s") from None
            for proc, raw in zip(procs, outputs, strict=True):
                err = raw.decode(errors="replace").strip()
                if proc.returncode != 0 or (fail_on_stderr and err):
                    errors.append(f"exit {proc.returncode}: {' | '.join(err.splitlines()[:5])}")
        finally:
            for proc in procs:
                _stop_process(proc)
        if errors:
            message = f"{tool} failed ({'; '.join(errors)})"
            raise MitKdcError(message.replace(secret, "***") if secret else message)

    def _log_tail(self) -> str:
        try:
            lines = self.log_file.read_text(errors="replace").splitlines()
        except OSError:
            return "(no log)"
        return " | ".join(lines[-5:]) or "(empty log)"
