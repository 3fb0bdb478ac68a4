"""The command line's key files and audit actor: files only their owner reads, in directories only it opens, and
the login account from the kernel, not from the environment."""

from __future__ import annotations

import os
import pwd
import stat

import pytest

from planperfect.api_key import NO_LOGIN_UID, SecretFile, cli_actor

ME = pwd.getpwuid(os.geteuid()).pw_name


def test_a_secret_file_makes_its_missing_directories_private_and_itself_0600(tmp_path):
    path = tmp_path / "new" / "deeper" / "key"
    with SecretFile(path) as out:
        out.commit("pp_x_y")
    assert path.read_text() == "pp_x_y\n" and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "new").stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "new" / "deeper").stat().st_mode) == 0o700


def test_a_file_that_cannot_be_written_is_known_before_the_secret_and_leaves_nothing(tmp_path):
    (tmp_path / "dir").mkdir()
    with pytest.raises(IsADirectoryError):
        SecretFile(tmp_path / "dir")
    with SecretFile(tmp_path / "key"):
        pass  # left without a secret (the key could not be made): no file, no temporary file
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dir"]


@pytest.mark.parametrize("login,expected", [
    (None, f"cli:{ME}"),                     # no login uid (a kernel without audit)
    (str(NO_LOGIN_UID), f"cli:{ME}"),        # set by no login: a daemon's
    (str(os.geteuid()), f"cli:{ME}"),        # logged in as the account it runs as
    ("65534", f"cli:{ME} (login {pwd.getpwuid(65534).pw_name})"),  # sudo or su from another account
    ("4000000", f"cli:{ME} (login uid 4000000)"),  # an account the machine does not name
    ("garbage", f"cli:{ME}"),
])
def test_the_login_account_comes_from_the_kernel_not_from_sudo_user(tmp_path, monkeypatch, login, expected):
    monkeypatch.setenv("SUDO_USER", "root" if ME != "root" else "daemon")  # set by anyone: never believed
    path = tmp_path / "loginuid"
    if login is not None:
        path.write_text(login)
    assert cli_actor(path) == expected
