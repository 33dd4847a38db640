"""The Redis URLs a worker accepts: one server's, Sentinel's, or a cluster's."""

from __future__ import annotations

import pytest

from holdspace.live.redis.scripts import WRITE
from holdspace.live.redis.sharded import sharded
from holdspace.redis_connect import ClusterTarget, SentinelTarget, cluster_target, sentinel_target
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
    assert cluster_target("redis://127.0.0.1:6379/0") is None
    assert cluster_target("redis+sentinel://127.0.0.1:26379/hs") is None


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


def test_a_cluster_url_names_its_seed_nodes_and_the_servers_credentials() -> None:
    url = "redis+cluster://holdspace:s%40cret@10.0.0.1:6379,10.0.0.2:6380,[::1]:6381"
    assert cluster_target(url) == ClusterTarget(
        seeds=(("10.0.0.1", 6379), ("10.0.0.2", 6380), ("::1", 6381)),
        username="holdspace",
        password="s@cret",
    )
    assert cluster_target("redis+cluster://10.0.0.1:6379/") == ClusterTarget(
        seeds=(("10.0.0.1", 6379),)
    )
    Settings(redis_url=url).validate()


@pytest.mark.parametrize(
    "url",
    [
        "redis+cluster://10.0.0.1",  # no port
        "redis+cluster://10.0.0.1:6379/2",  # a cluster has one database
        "redis+cluster://10.0.0.1:6379?ssl=true",
    ],
)
def test_a_cluster_url_that_cant_be_read_is_refused_at_start(url: str) -> None:
    with pytest.raises(ValueError, match=r"seed node must be|seed nodes only"):
        cluster_target(url)
    with pytest.raises(SettingsError, match="HOLDSPACE_REDIS_URL"):
        Settings(redis_url=url).validate()


def test_on_a_cluster_the_step_script_publishes_on_its_shard() -> None:
    """Its one PUBLISH becomes SPUBLISH, and the count of listeners the shard's."""
    script = sharded(WRITE)
    assert "'SPUBLISH'" in script
    assert "'PUBLISH'" not in script
    assert "'SHARDNUMSUB'" in script
    assert "'NUMSUB'" not in script
