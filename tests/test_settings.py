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
