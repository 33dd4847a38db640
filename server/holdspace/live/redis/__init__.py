"""The scale-out hub on Redis (see :mod:`.hub`)."""

from holdspace.live.redis.hub import HubTuning, RedisHub

__all__ = ["HubTuning", "RedisHub"]
