"""The ``holdspace`` command: ``serve`` a worker, ``admin`` accounts, or the ``demo``."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import sys
from collections.abc import Sequence

from holdspace import logs
from holdspace.settings import Settings, SettingsError


def _serve(args: argparse.Namespace) -> int:
    from holdspace import serving

    overrides = {
        "host": args.host,
        "port": args.port,
        "data_dir": args.data_dir,
        "redis_url": args.redis,
        "workers": args.workers,
        "demo": args.demo or None,
    }
    settings = Settings.from_env(**overrides)
    # Worker processes build their settings from the environment: pass the flags on.
    for name, value in overrides.items():
        if value is not None:
            os.environ[f"HOLDSPACE_{name.upper()}"] = str(value)
    logs.configure(settings.log_level, settings.log_format)
    serving.serve(settings)
    return 0


async def _admin(args: argparse.Namespace) -> int:
    from holdspace.accounts import Accounts
    from holdspace.auth.passwords import PasswordService
    from holdspace.clock import SystemClock
    from holdspace.errors import ClientError
    from holdspace.storage.base import Store
    from holdspace.storage.redis import RedisStore
    from holdspace.storage.sqlite import SQLiteStore

    settings = Settings.from_env(data_dir=args.data_dir, redis_url=args.redis)
    store: Store
    if settings.redis_url:
        store = await RedisStore.open(settings.redis_url, prefix=settings.redis_prefix)
    else:
        store = await SQLiteStore.open(settings.database_path)
    passwords = PasswordService(settings.password_profile)
    accounts = Accounts(store, passwords, SystemClock(), token_ttl_seconds=3600)
    try:
        if args.action == "create-user":
            password = _read_password(args.password_stdin)
            user = await accounts.create(args.username, password, args.display_name, args.role)
            print(f"created {user.role} {user.username} ({user.id})")
            return 0
        found = await store.get_user_by_username(args.username)
        if found is None:
            print(f"error: no user {args.username!r}", file=sys.stderr)
            return 1
        if args.action == "set-role":
            await store.set_role(found.id, args.role)
            await store.revoke_user_tokens(found.id)
            print(f"{found.username} is now {args.role}; their sessions were signed out")
        else:
            await accounts.set_password(found, _read_password(args.password_stdin))
            print(f"password changed for {found.username}; their sessions were signed out")
        return 0
    except ClientError as error:
        print(f"error: {error.message}", file=sys.stderr)
        return 1
    finally:
        await store.close()
        passwords.close()


def _demo(args: argparse.Namespace) -> int:
    """Show the demo's accounts again, or start the demo afresh (embedded data only)."""
    from holdspace.seed import DEMO_FILE, demo_accounts

    settings = Settings.from_env(data_dir=args.data_dir)
    accounts = demo_accounts(settings.data_dir)
    if accounts is None:
        print(f"error: no demo in {settings.data_dir} (start one with make run)", file=sys.stderr)
        return 1
    if args.action == "show":
        print(accounts, end="")
        return 0
    # Only a directory the demo made is wiped: its accounts file says it is one.
    database = settings.database_path
    for path in (
        database,
        database.with_name(database.name + "-wal"),
        database.with_name(database.name + "-shm"),
        settings.data_dir / DEMO_FILE,
    ):
        path.unlink(missing_ok=True)
    print(f"The demo in {settings.data_dir} is gone; the next start with --demo seeds it afresh.")
    return 0


def _read_password(from_stdin: bool) -> str:
    if from_stdin or not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("Password: ")
    if getpass.getpass("Again: ") != first:
        raise SystemExit("error: the passwords differ")
    return first


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="holdspace", description=__doc__)
    sub = top.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run a worker")
    serve.add_argument("--host", default=None, help="bind address (HOLDSPACE_HOST)")
    serve.add_argument("--port", type=int, default=None, help="port (HOLDSPACE_PORT)")
    serve.add_argument("--data-dir", default=None, help="where the SQLite file lives")
    serve.add_argument(
        "--redis",
        default=None,
        help="redis://, redis+sentinel:// or redis+cluster:// URL (HOLDSPACE_REDIS_URL)",
    )
    serve.add_argument(
        "--workers", type=int, default=None, help="processes (HOLDSPACE_WORKERS; needs Redis)"
    )
    serve.add_argument("--demo", action="store_true", help="seed a demo on first start")
    serve.set_defaults(run=_serve)

    admin = sub.add_parser("admin", help="manage accounts")
    admin.add_argument("--data-dir", default=None)
    admin.add_argument(
        "--redis",
        default=None,
        help="redis://, redis+sentinel:// or redis+cluster:// URL (HOLDSPACE_REDIS_URL)",
    )
    actions = admin.add_subparsers(dest="action", required=True)
    create = actions.add_parser("create-user", help="create a facilitator, admin or member")
    create.add_argument("username")
    create.add_argument("--display-name", required=True)
    create.add_argument("--role", choices=("facilitator", "admin", "member"), default="facilitator")
    create.add_argument("--password-stdin", action="store_true")
    role = actions.add_parser("set-role", help="change an account's role")
    role.add_argument("username")
    role.add_argument("role", choices=("facilitator", "admin", "member"))
    password = actions.add_parser("set-password", help="set a new password (signs them out)")
    password.add_argument("username")
    password.add_argument("--password-stdin", action="store_true")
    admin.set_defaults(run=lambda a: asyncio.run(_admin(a)))

    demo = sub.add_parser("demo", help="the demo that `make run` seeds")
    demo.add_argument("--data-dir", default=None)
    demo.add_argument(
        "action", choices=("show", "reset"), help="show its accounts, or start it afresh"
    )
    demo.set_defaults(run=_demo)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if getattr(args, "data_dir", None) is not None:
        from pathlib import Path

        args.data_dir = Path(args.data_dir)
    try:
        return int(args.run(args))
    except SettingsError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
