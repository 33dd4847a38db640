"""The deployment files, checked by the tools that read them where this machine has
them: nginx parses the TLS site, systemd verifies the units, Redis enforces the ACL.
Docker can't run here, so the image and compose files are checked for what they
promise (non-root, no build tools in the final image, health checks, mounts that
exist)."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from redis import Redis
from redis.exceptions import AuthenticationError, NoPermissionError, ResponseError

from tests.redis_sentinel import Sentinel
from tests.redis_server import RedisServer, free_port

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def nginx_binary() -> str:
    found = shutil.which("nginx") or (
        "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None
    )
    if found is None:
        pytest.fail("nginx is missing: run `make test` (it installs it)")
    return found


def test_nginx_accepts_the_tls_site(tmp_path: Path) -> None:
    """holdspace.conf as shipped, with its placeholders pointing at a throwaway
    certificate and this test's directories."""
    certs = tmp_path / "certs"
    certs.mkdir()
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=support.example.org", "-keyout", str(certs / "privkey.pem"),
         "-out", str(certs / "fullchain.pem")],
        check=True, capture_output=True,
    )  # fmt: skip
    site = (DEPLOY / "nginx" / "holdspace.conf").read_text()
    site = site.replace("/etc/nginx/holdspace/", f"{DEPLOY}/nginx/")
    site = site.replace("/etc/ssl/holdspace/", f"{certs}/")
    site = site.replace("/var/log/nginx/", f"{tmp_path}/")
    # Ports nginx may bind as a non-root user, for the check.
    site = site.replace("listen 80;", "listen 127.0.0.1:18080;").replace(
        "listen 443", "listen 127.0.0.1:18443"
    )
    site = re.sub(r"\s*listen \[::\]:\d+[^;]*;", "", site)
    (tmp_path / "site.conf").write_text(site)
    (tmp_path / "nginx.conf").write_text(
        f"pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\n"
        f"events {{}}\nhttp {{\n  client_body_temp_path {tmp_path}/body;\n"
        f"  proxy_temp_path {tmp_path}/proxy;\n  include {tmp_path}/site.conf;\n}}\n"
    )
    checked = subprocess.run(
        [nginx_binary(), "-t", "-c", str(tmp_path / "nginx.conf"), "-p", f"{tmp_path}/",
         "-e", str(tmp_path / "error.log")],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert checked.returncode == 0, checked.stderr
    assert "syntax is ok" in checked.stderr


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze here")
def test_systemd_accepts_the_units(tmp_path: Path) -> None:
    """Everything but the program itself, which is only there once installed."""
    for name in ("holdspace@.service", "holdspace.service", "holdspace.target"):
        shutil.copy(DEPLOY / "systemd" / name, tmp_path / name)
    verified = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", "holdspace@8001.service",
         "holdspace.service", "holdspace.target"],
        cwd=tmp_path, capture_output=True, text=True, check=False,
    )  # fmt: skip
    complaints = [
        line
        for line in (verified.stdout + verified.stderr).splitlines()
        if line.strip() and "/opt/holdspace/venv/bin/holdspace is not executable" not in line
    ]
    assert complaints == []


def test_the_environment_file_names_every_setting() -> None:
    from holdspace.settings import Settings

    text = (DEPLOY / "systemd" / "holdspace.env.example").read_text()
    for name in Settings.__dataclass_fields__:
        if name != "extra":
            assert f"HOLDSPACE_{name.upper()}" in text, name
    # systemd reads KEY=VALUE lines: a comment after a value would become part of it.
    for line in text.splitlines():
        if line.startswith("HOLDSPACE_"):
            assert "#" not in line, line


@pytest.fixture
def acl_redis(tmp_path: Path) -> Iterator[int]:
    """redis-server with deploy/redis/redis.conf and users.acl (password: "pw")."""
    acl = tmp_path / "users.acl"
    acl.write_text(re.sub(r">\S+", ">pw", (DEPLOY / "redis" / "users.acl").read_text()))
    port = free_port()
    process = subprocess.Popen(
        ["redis-server", str(DEPLOY / "redis" / "redis.conf"), "--port", str(port),
         "--dir", str(tmp_path), "--aclfile", str(acl), "--appendonly", "no"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        for line in process.stdout:
            if "Ready to accept connections" in line:
                break
        yield port
    finally:
        process.terminate()
        process.wait(10)
        if process.stdout is not None:
            process.stdout.close()


def test_redis_lets_the_app_user_do_only_what_it_needs(acl_redis: int) -> None:
    with (
        Redis(port=acl_redis, socket_timeout=5) as anonymous,
        pytest.raises((AuthenticationError, ResponseError)),
    ):
        anonymous.ping()  # the default user is off
    app = Redis(port=acl_redis, username="holdspace", password="pw", decode_responses=True)
    try:
        assert app.ping()
        app.set("hs:check", "1")
        assert app.get("hs:check") == "1"
        assert app.eval("return redis.call('TIME')[1] ~= nil", 0) == 1
        for refused in (
            lambda: app.set("elsewhere:check", "1"),  # outside Holdspace's keys
            lambda: app.publish("elsewhere", "x"),  # outside its channels
            lambda: app.flushall(),
            lambda: app.keys("*"),
            lambda: app.config_get("dir"),
            lambda: app.shutdown(),
        ):
            with pytest.raises(NoPermissionError):
                refused()
    finally:
        app.close()


def test_the_image_runs_as_a_user_without_build_tools() -> None:
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    final = dockerfile.rsplit("\nFROM ", 1)[1]
    assert final.startswith("python:3.11-slim")
    assert re.search(r"^USER holdspace$", final, re.MULTILINE)
    for tool in ("gcc", "build-essential", "apt-get install", "make "):
        assert tool not in final, tool
    assert "HEALTHCHECK" in final
    assert "COPY --from=build /opt/holdspace /opt/holdspace" in final


def test_compose_runs_redis_two_workers_and_nginx_from_these_files() -> None:
    yaml = pytest.importorskip("yaml")
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    services = compose["services"]
    assert set(services) == {"redis", "worker1", "worker2", "nginx"}
    for worker in ("worker1", "worker2"):
        spec = services[worker]
        assert "/readyz" in " ".join(spec["healthcheck"]["test"])
        assert spec["depends_on"]["redis"]["condition"] == "service_healthy"
        assert spec["build"]["dockerfile"] == "deploy/Dockerfile"
        assert "@redis:6379" in spec["environment"]["HOLDSPACE_REDIS_URL"]
        # nginx connects from the project's network: trusted, so it isn't capped as one
        # client (the worker's own edge) and members' forwarded addresses are believed.
        subnet = compose["networks"]["default"]["ipam"]["config"][0]["subnet"]
        assert spec["environment"]["HOLDSPACE_TRUSTED_PROXIES"] == subnet
    made_by_the_operator = {"./users.acl", "./certs", "holdspace.env"}
    for service in services.values():
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith("./") and source not in made_by_the_operator:
                assert (DEPLOY / source).exists(), source
    upstream = (DEPLOY / "nginx" / "compose-upstream.conf").read_text()
    assert "worker1:8000" in upstream
    assert "worker2:8000" in upstream


def test_a_restart_keeps_what_scripts_wrote_with_an_expiry(tmp_path: Path) -> None:
    """Redis 7.0 replays the append-only file as the default user: with the shipped ACL
    (default user off, but with its permissions) a script's write that sets an expiry
    survives a restart. With the permissions taken away too, it silently didn't."""
    acl = tmp_path / "users.acl"
    acl.write_text(re.sub(r">\S+", ">pw", (DEPLOY / "redis" / "users.acl").read_text()))
    port = free_port()
    argv = [
        "redis-server", str(DEPLOY / "redis" / "redis.conf"), "--port", str(port),
        "--dir", str(tmp_path), "--aclfile", str(acl), "--appendfsync", "always",
    ]  # fmt: skip

    def start() -> subprocess.Popen[str]:
        process = subprocess.Popen(
            argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        assert process.stdout is not None
        for line in process.stdout:
            if "Ready to accept connections" in line:
                return process
        raise AssertionError("redis-server did not start")

    def stop(process: subprocess.Popen[str]) -> None:
        process.terminate()  # SIGTERM: Redis flushes the append-only file and exits
        process.wait(10)
        if process.stdout is not None:
            process.stdout.close()

    first = start()
    with Redis(port=port, username="holdspace", password="pw") as app:
        app.eval(
            "redis.call('SET', KEYS[1], 'kept') redis.call('PEXPIREAT', KEYS[1], ARGV[1])",
            1, "hs:record", 4_000_000_000_000,
        )  # fmt: skip
    stop(first)
    second = start()
    try:
        with Redis(port=port, username="holdspace", password="pw") as app:
            assert app.get("hs:record") == b"kept"
    finally:
        stop(second)


def test_sentinel_accepts_the_shipped_configuration(tmp_path: Path) -> None:
    """Redis's own Sentinel reads ``deploy/redis/sentinel.conf`` (with this machine's
    addresses put over its examples) and starts watching the primary."""
    primary = RedisServer()
    try:
        sentinel = Sentinel(
            primary.port, tmp_path, base=(DEPLOY / "redis" / "sentinel.conf").read_text()
        )
        sentinel.stop()
    finally:
        primary.stop()


def test_a_cluster_node_starts_from_the_shipped_configuration(tmp_path: Path) -> None:
    """``deploy/redis/cluster.conf`` (over redis.conf, with this machine's paths and
    addresses) starts a cluster node, and the ACL lets the app learn the cluster's
    layout and follow its redirections, and nothing more of ``CLUSTER``."""
    acl = tmp_path / "users.acl"
    acl.write_text(re.sub(r">\S+", ">pw", (DEPLOY / "redis" / "users.acl").read_text()))
    conf = (DEPLOY / "redis" / "cluster.conf").read_text()
    conf = conf.replace("/etc/redis/redis.conf", str(DEPLOY / "redis" / "redis.conf"))
    conf = re.sub(r"^bind .*$", "bind 127.0.0.1", conf, flags=re.MULTILINE)
    port = free_port()
    conf += (
        f"\nport {port}\ncluster-port {free_port()}\ndir {tmp_path}\naclfile {acl}\nappendonly no\n"
    )
    (tmp_path / "node.conf").write_text(conf)
    process = subprocess.Popen(
        ["redis-server", str(tmp_path / "node.conf")],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        seen = []
        for line in process.stdout:
            seen.append(line)
            if "Ready to accept connections" in line:
                break
        else:
            raise AssertionError("".join(seen[-20:]))
        with Redis(port=port, username="holdspace", password="pw") as app:
            assert app.execute_command("CLUSTER", "MYID")
            assert app.execute_command("CLUSTER", "SLOTS") == []
            app.execute_command("CLUSTER", "SHARDS")
            app.execute_command("READONLY")
            app.execute_command("ASKING")
            for refused in (("CLUSTER", "SETSLOT", 1, "STABLE"), ("CLUSTER", "RESET")):
                with pytest.raises(NoPermissionError):
                    app.execute_command(*refused)
    finally:
        process.terminate()
        process.wait(10)
        if process.stdout is not None:
            process.stdout.close()
