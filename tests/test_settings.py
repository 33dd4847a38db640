"""Settings are read once and fail loudly, naming the variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from holdspace.settings import Settings, SettingsError


def test_environment_values_are_typed() -> None:
    """Each HOLDSPACE_* variable is converted to its setting's type."""
    settings = Settings.from_env(
        {
            "HOLDSPACE_PORT": "9000",
            "HOLDSPACE_DATA_DIR": "/var/lib/holdspace",
            "HOLDSPACE_COOKIE_SECURE": "yes",
            "HOLDSPACE_GRACE_SECONDS": "45.5",
            "HOLDSPACE_ALLOWED_ORIGINS": "https://a.example, https://b.example",
        }
    )
    assert settings.port == 9000
    assert settings.data_dir == Path("/var/lib/holdspace")
    assert settings.cookie_secure is True
    assert settings.grace_seconds == 45.5
    assert settings.origins == frozenset({"https://a.example", "https://b.example"})


def test_flags_override_the_environment() -> None:
    """A command-line flag wins over the variable; an absent flag (None) does not."""
    settings = Settings.from_env({"HOLDSPACE_PORT": "9000"}, port=9100, host=None)
    assert settings.port == 9100
    assert settings.host == "127.0.0.1"


def test_trusted_proxies_are_addresses_networks_or_any() -> None:
    """A proxy is named as uvicorn reads X-Forwarded-For's senders: an address, a network,
    or ``*``; a typo would otherwise cap the proxy as one client and believe nobody."""
    settings = Settings.from_env({"HOLDSPACE_TRUSTED_PROXIES": "127.0.0.1, 10.0.0.0/8, fd00::/8"})
    assert settings.trusted_proxies == ("127.0.0.1", "10.0.0.0/8", "fd00::/8")
    assert Settings.from_env({"HOLDSPACE_TRUSTED_PROXIES": "*"}).trusted_proxies == ("*",)


def test_default_origins_are_the_servers_own() -> None:
    """With no allow-list, only pages served by this server may open a cookie socket."""
    assert Settings(port=8123).origins == frozenset(
        {"http://127.0.0.1:8123", "http://localhost:8123"}
    )


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"HOLDSPACE_PORT": "eighty"}, "HOLDSPACE_PORT"),
        ({"HOLDSPACE_COOKIE_SECURE": "maybe"}, "HOLDSPACE_COOKIE_SECURE"),
        ({"HOLDSPACE_DEFAULT_CAPACITY": "40"}, "HOLDSPACE_DEFAULT_CAPACITY"),
        ({"HOLDSPACE_PASSWORD_PROFILE": "weak"}, "HOLDSPACE_PASSWORD_PROFILE"),
        ({"HOLDSPACE_ALLOWED_ORIGINS": "example.org"}, "HOLDSPACE_ALLOWED_ORIGINS"),
        ({"HOLDSPACE_TRUSTED_PROXIES": "127.0.0.1, nginx"}, "HOLDSPACE_TRUSTED_PROXIES"),
        ({"HOLDSPACE_HEADER_TIMEOUT_SECONDS": "0"}, "HOLDSPACE_HEADER_TIMEOUT_SECONDS"),
        ({"HOLDSPACE_CONNECTIONS_PER_ADDRESS": "-1"}, "HOLDSPACE_CONNECTIONS_PER_ADDRESS"),
        ({"HOLDSPACE_HANDSHAKES_PER_MINUTE": "0"}, "HOLDSPACE_HANDSHAKES_PER_MINUTE"),
        ({"HOLDSPACE_SOCKETS_PER_ACCOUNT": "-2"}, "HOLDSPACE_SOCKETS_PER_ACCOUNT"),
    ],
)
def test_bad_values_name_their_variable(env: dict[str, str], named: str) -> None:
    """A bad value stops start-up with a message naming the variable to fix."""
    with pytest.raises(SettingsError, match=named):
        Settings.from_env(env)


def test_logs_are_for_people_on_a_terminal_and_for_machines_elsewhere() -> None:
    """``auto`` writes readable lines to a terminal and JSON to anything else."""
    import io
    import logging

    from holdspace import logs

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        for stream, json_lines in ((Terminal(), False), (io.StringIO(), True)):
            logs.configure("INFO", "auto", stream)
            logging.getLogger("holdspace.test").info("joined", extra={"room_id": "room_x"})
            line = stream.getvalue().strip()
            if json_lines:
                assert line.startswith("{")
                assert '"room_id": "room_x"' in line
            else:
                assert line.endswith(" joined  (room_id=room_x)")
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"HOLDSPACE_HASH_CONCURRENCY": "0"}, "HOLDSPACE_HASH_CONCURRENCY"),
        ({"HOLDSPACE_HASH_QUEUE": "-1"}, "HOLDSPACE_HASH_QUEUE"),
        ({"HOLDSPACE_LOGIN_ATTEMPTS": "0"}, "HOLDSPACE_LOGIN_ATTEMPTS"),
        ({"HOLDSPACE_LOGIN_ACCOUNT_ATTEMPTS": "0"}, "HOLDSPACE_LOGIN_ACCOUNT_ATTEMPTS"),
        ({"HOLDSPACE_LOGIN_ADDRESS_ACCOUNTS": "many"}, "HOLDSPACE_LOGIN_ADDRESS_ACCOUNTS"),
        ({"HOLDSPACE_LOGIN_WINDOW_SECONDS": "0"}, "HOLDSPACE_LOGIN_WINDOW_SECONDS"),
        ({"HOLDSPACE_SIGNUP_PER_ADDRESS": "0"}, "HOLDSPACE_SIGNUP_PER_ADDRESS"),
        ({"HOLDSPACE_SIGNUP_PER_INVITE": "-3"}, "HOLDSPACE_SIGNUP_PER_INVITE"),
        ({"HOLDSPACE_SIGNUP_WINDOW_SECONDS": "nan"}, "HOLDSPACE_SIGNUP_WINDOW_SECONDS"),
    ],
)
def test_sign_in_limits_that_would_refuse_everyone_name_their_variable(
    env: dict[str, str], named: str
) -> None:
    """A limit of nothing, or over no time, would turn every member away: refused at start."""
    with pytest.raises(SettingsError, match=named):
        Settings.from_env(env)


def test_sign_in_limits_are_read_from_the_environment() -> None:
    """Each sign-in and sign-up limit comes from its HOLDSPACE_* variable."""
    settings = Settings.from_env(
        {
            "HOLDSPACE_HASH_QUEUE": "0",
            "HOLDSPACE_LOGIN_ATTEMPTS": "5",
            "HOLDSPACE_LOGIN_ACCOUNT_ATTEMPTS": "100",
            "HOLDSPACE_LOGIN_ADDRESS_ACCOUNTS": "40",
            "HOLDSPACE_LOGIN_WINDOW_SECONDS": "600",
            "HOLDSPACE_SIGNUP_PER_ADDRESS": "25",
            "HOLDSPACE_SIGNUP_PER_INVITE": "60",
            "HOLDSPACE_SIGNUP_WINDOW_SECONDS": "1800",
        }
    )
    assert settings.hash_queue == 0
    assert (settings.login_attempts, settings.login_account_attempts) == (5, 100)
    assert (settings.login_address_accounts, settings.login_window_seconds) == (40, 600.0)
    assert (settings.signup_per_address, settings.signup_per_invite) == (25, 60)
    assert settings.signup_window_seconds == 1800.0
