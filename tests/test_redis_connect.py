"""The Redis URLs a worker accepts: one server's, or Sentinel's."""

from __future__ import annotations

import pytest

from holdspace.redis_connect import SentinelTarget, sentinel_target
from holdspace.settings import Settings, SettingsError


def test_a_sentinel_url_names_the_sentinels_the_service_and_the_servers_credentials() -> None:
    url = "redis+sentinel://holdspace:s%40cret@10.0.0.1:26379,10.0.0.2:26380/hs-main/2"
    assert sentinel_target(url + "?sentinel_password=watch") == SentinelTarget(
        sentinels=(("10.0.0.1", 26379), ("10.0.0.2", 26380)),
        service="hs-main",
        db=2,
        username="holdspace",
        password="s@cret",
        sentinel_password="watch",
    )
    assert sentinel_target("redis+sentinel://[::1]:26379/hs") == SentinelTarget(
        sentinels=(("::1", 26379),), service="hs"
    )


def test_other_urls_are_one_server() -> None:
    assert sentinel_target("redis://127.0.0.1:6379/0") is None
    assert sentinel_target("unix:///run/redis.sock") is None


@pytest.mark.parametrize(
    "url",
    [
        "redis+sentinel://10.0.0.1/hs",  # no port
        "redis+sentinel://10.0.0.1:26379",  # no service
        "redis+sentinel://10.0.0.1:26379/hs/zero",  # a db that isn't a number
        "redis+sentinel://10.0.0.1:26379/hs/0/more",
    ],
)
def test_a_sentinel_url_that_cant_be_read_is_refused_at_start(url: str) -> None:
    with pytest.raises(ValueError, match=r"sentinel must be|path must be"):
        sentinel_target(url)
    with pytest.raises(SettingsError, match="HOLDSPACE_REDIS_URL"):
        Settings(redis_url=url).validate()


def test_settings_take_a_sentinel_url() -> None:
    Settings(redis_url="redis+sentinel://127.0.0.1:26379/hs").validate()
    with pytest.raises(SettingsError, match="redis\\+sentinel://"):
        Settings(redis_url="http://127.0.0.1:6379").validate()
