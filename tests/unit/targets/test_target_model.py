"""Target: address/port from inventory vars, connection helpers, secrets never printed."""

from __future__ import annotations

import logging
import pickle

import pytest

from psfleet.errors import UsageError
from psfleet.targets import Secret, Target

PASSWORD = "Sup3r-S3cret!"


def test_inventory_vars_give_address_and_port_over_the_default() -> None:
    target = Target.from_vars(
        "node01", {"ansible_host": "127.1.0.1", "ansible_port": "5986"}, default_port=5985
    )
    assert (target.name, target.address, target.port) == ("node01", "127.1.0.1", 5986)


def test_name_is_the_address_when_the_inventory_gives_none() -> None:
    target = Target.from_vars("web1", {}, default_port=5985)
    assert (target.address, target.port) == ("web1", 5985)


def test_helpers_read_common_ansible_vars() -> None:
    target = Target.from_vars(
        "n1",
        {
            "ansible_user": "LAB\\admin",
            "ansible_password": PASSWORD,
            "ansible_winrm_scheme": "HTTPS",
            "ansible_winrm_transport": "ntlm",
        },
    )
    assert target.user == "LAB\\admin"
    assert target.password is not None and target.password.reveal() == PASSWORD
    assert target.scheme == "https"
    assert target.auth == "ntlm"
    assert target.url == "https://n1:5986/wsman"


def test_psfleet_auth_overrides_ansible_transport() -> None:
    target = Target("n1", "n1", vars={"ansible_winrm_transport": "ntlm", "psfleet_auth": "CredSSP"})
    assert target.auth == "credssp"


def test_defaults_follow_winrm_ports() -> None:
    assert Target("n1", "n1").url == "http://n1:5985/wsman"
    assert Target("n1", "n1", 5986).url == "https://n1:5986/wsman"


def test_bad_scheme_or_port_is_a_usage_error_naming_the_host() -> None:
    with pytest.raises(UsageError, match="n1: ansible_winrm_scheme must be http or https"):
        Target("n1", "n1", vars={"ansible_winrm_scheme": "ftp"})
    with pytest.raises(UsageError, match="ansible_port must be a number"):
        Target.from_vars("n1", {"ansible_port": "59x5"})
    with pytest.raises(UsageError, match="out of range"):
        Target("n1", "n1", 70000)


def test_password_never_shows_in_repr_str_or_logs(caplog: pytest.LogCaptureFixture) -> None:
    target = Target.from_vars(
        "n1", {"ansible_password": PASSWORD, "vault_token": "tok-123", "ansible_user": "u"}
    )
    caplog.set_level(logging.INFO)
    logging.getLogger("test").info("target %s %r %s", target, target, target.vars)
    shown = [repr(target), str(target), f"{target}", str(target.secrets), caplog.text]
    for text in shown:
        assert PASSWORD not in text and "tok-123" not in text
    assert "ansible_password" not in target.vars
    assert "Secret('********')" in repr(target)


def test_secrets_compare_by_value_so_equal_targets_are_equal() -> None:
    assert Target("n", "n", vars={"ansible_password": "x"}) == Target(
        "n", "n", vars={"ansible_password": "x"}
    )
    assert Secret("a") != Secret("b")
    assert hash(Target("n", "n", vars={"ansible_password": "x"})) == hash(Target("n", "n"))


def test_target_vars_are_read_only() -> None:
    target = Target("n", "n", vars={"a": 1})
    with pytest.raises(TypeError):
        target.vars["a"] = 2  # type: ignore[index]


def test_targets_survive_pickling_for_worker_processes() -> None:
    target = Target("n", "10.0.0.1", 5986, {"ansible_user": "u", "ansible_password": "pw"})
    assert pickle.loads(pickle.dumps(target)) == target
