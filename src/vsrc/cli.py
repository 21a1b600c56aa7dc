"""The ``vsrc`` command line (the commands are listed in the README)."""

from __future__ import annotations

import logging
import os
import signal
import sys
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from vsrc.cli_storage import storage_app
from vsrc.cli_tokens import tokens_app
from vsrc.config import Settings, load_settings
from vsrc.errors import VsrcError
from vsrc.runtime import Runtime

app = typer.Typer(help="VSRC - self-hostable video platform.", no_args_is_help=True)
keys_app = typer.Typer(help="Manage API keys.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
users_app = typer.Typer(help="Manage dashboard users.", no_args_is_help=True)
app.add_typer(users_app, name="users")
servers_app = typer.Typer(help="Manage RTMP ingest servers.", no_args_is_help=True)
app.add_typer(servers_app, name="servers")
app.add_typer(tokens_app, name="tokens")
app.add_typer(storage_app, name="storage")
err = Console(stderr=True)


def _settings() -> Settings:
    try:
        return load_settings()
    except VsrcError as exc:
        err.print(f"[red]error:[/red] {exc.message}")
        raise typer.Exit(2) from exc


def _logging(settings: Settings) -> None:
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )


def _migrate(settings: Settings) -> None:
    from vsrc.db.migrate import upgrade
    from vsrc.db.session import transaction
    from vsrc.services.defaults import ensure_defaults

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade(settings.sqlalchemy_url)
    runtime = Runtime(settings)
    try:
        with transaction(runtime.sessions) as session:
            ensure_defaults(session, rtmp_public_url=settings.rtmp_public_url, region=settings.rtmp_region)
    finally:
        runtime.close()


def _storage_checked(runtime: Runtime) -> Runtime:
    """Stop at start-up, naming what is wrong, when an S3 bucket is unreachable or refuses us."""
    from vsrc.storage.url import S3Location

    if isinstance(runtime.settings.storage_location, S3Location):
        from vsrc.storage.s3 import S3Storage

        storage = runtime.storage
        assert isinstance(storage, S3Storage)  # the runtime builds S3Storage for every s3:// location
        try:
            storage.verify()
        except VsrcError as exc:
            err.print(f"[red]error:[/red] VSRC_STORAGE_URL: {exc.message}")
            raise typer.Exit(2) from exc
    return runtime


def _runtime() -> Runtime:
    """This command's composition root (docs/architecture.md#composition-root)."""
    return Runtime(_settings())


@app.command()
def migrate() -> None:
    """Create or upgrade the database schema and seed the defaults."""
    settings = _settings()
    _migrate(settings)
    from vsrc.redact import redact_url

    typer.echo(f"database ready: {redact_url(settings.sqlalchemy_url)}")


@app.command()
def api() -> None:
    """Run the HTTP API only (stateless; VSRC_API_WORKERS processes, or N replicas behind a balancer)."""
    import uvicorn

    from vsrc.api.server import PROTOCOL

    settings = _settings()
    _storage_checked(Runtime(settings)).close()  # every path of the API reads and writes through storage
    _logging(settings)
    err.print(f"Dashboard: {settings.public_url}/ (sign-up is open until the first user exists)")
    # A factory import string, so that uvicorn can start several worker processes.
    uvicorn.run(
        "vsrc.api.app:app_from_env",
        factory=True,
        workers=settings.api_workers,
        # uvicorn's supervisor SIGKILLs a worker that leaves its ping unanswered this long. Its 5 s
        # default is shorter than a worker's start on a loaded machine (interpreter, imports, app):
        # every starting worker was killed and replaced, and nothing ever served.
        timeout_worker_healthcheck=settings.api_worker_timeout,
        host=settings.http_host,
        port=settings.http_port,
        log_level=settings.log_level.lower(),
        # Request heads are bounded by our protocol (vsrc.api.server); X-Forwarded-For is trusted
        # by the app itself, from VSRC_FORWARDED_ALLOW_IPS (docs/architecture.md, "HTTP API and delivery").
        http=PROTOCOL,
        proxy_headers=False,
    )


def _exit_on_signal(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


def _warm_up_encodes(settings: Settings) -> None:
    """Import the encode path and find ffmpeg now: the first upload would otherwise wait for both
    between its pick-up and ffmpeg's start (docs/benchmarks.md, "Fast start")."""
    import vsrc.tasks.encode_job  # noqa: F401

    log = logging.getLogger("vsrc.worker")
    log.debug("ffmpeg: %s", settings.ffmpeg_path)


@app.command()
def worker() -> None:
    """Run the task-queue consumers (VOD encoding, thumbnails, webhook deliveries)."""
    from vsrc.tasks.diskgate import DiskGate
    from vsrc.tasks.heartbeat import WorkerHeartbeat
    from vsrc.tasks.recovery import requeue_stale

    runtime = _storage_checked(Runtime(_settings()))
    settings = runtime.settings
    _logging(settings)
    queue = runtime.queue
    gate = queue.huey.gate = queue.webhooks_huey.gate = DiskGate(settings)
    heartbeat = WorkerHeartbeat(runtime, state=gate.state)
    # Until Huey installs its own handlers, SIGTERM must still unwind through the finally below, so
    # that a clean stop removes the heartbeat row instead of leaving it to go stale.
    signal.signal(signal.SIGTERM, _exit_on_signal)
    heartbeat.start()
    try:
        _warm_up_encodes(settings)
        requeue_stale(runtime, queue.enqueue_encode)
        # Huey's default back-off lets an idle worker poll only every 10 s: a new upload would wait up
        # to that long before its encode starts (bench/encode measured it). Cap it instead; on SQLite
        # the enqueuer also rings a doorbell that wakes the worker at once (vsrc.tasks.doorbell).
        # Plus the fast-start lanes: a new upload starts while long encodes run and pauses them until
        # it is playable (vsrc.tasks.lanes; docs/architecture.md, "Fast start").
        consumer = queue.huey.create_consumer(
            workers=settings.workers + settings.fast_start_lanes,
            worker_type="thread",
            check_worker_health=True,
            max_delay=settings.queue_poll_seconds,
        )
        # Webhook senders: their own queue and threads, so a hanging receiver never delays an encode.
        # Started first: the encode consumer's start() then takes over the signal handlers.
        senders = queue.webhooks_huey.create_consumer(
            workers=settings.webhook_workers,
            worker_type="thread",
            check_worker_health=False,
            max_delay=settings.queue_poll_seconds,
        )
        from vsrc.tasks.webhook_job import http_client

        http_client()  # imported and built now, not on the first event (its latency counts)
        senders.start()
        try:
            consumer.run()
        finally:
            senders.stop(graceful=False)
            queue.stop_listening()
    finally:
        heartbeat.stop()


@app.command()
def ingest(
    server_id: Annotated[int | None, typer.Option(help="RTMP server id (default: the first one)")] = None,
) -> None:
    """Run one RTMP ingest server: key checks, live HLS, recordings, heartbeat."""
    import asyncio

    from vsrc.ingest.service import run_ingest

    runtime = _storage_checked(Runtime(_settings()))
    _logging(runtime.settings)
    if server_id is None:
        from sqlalchemy import select

        from vsrc.db.models import RtmpServer
        from vsrc.db.session import transaction

        with transaction(runtime.sessions) as session:
            server_id = session.scalar(select(RtmpServer.id).order_by(RtmpServer.id).limit(1))
        if server_id is None:
            err.print("[red]error:[/red] no RTMP server: run 'vsrc migrate' or 'vsrc servers add'")
            raise typer.Exit(2)
    asyncio.run(run_ingest(runtime, server_id=server_id))


@app.command()
def serve() -> None:
    """All-in-one: migrate, then the API, the encoding worker and RTMP ingest in one command."""
    from vsrc.supervisor import Supervisor

    settings = _settings()
    _storage_checked(Runtime(settings)).close()  # before migrating: a wrong bucket stops it at once
    _logging(settings)
    _migrate(settings)
    err.print(
        f"[bold]VSRC[/bold] API on {settings.public_url} (docs: {settings.public_url}/docs), "
        f"RTMP ingest on port {settings.rtmp_port}, data in {settings.data_dir}\n"
        "Create an API key:  .venv/bin/vsrc keys create --name my-app --permission write"
    )
    vsrc = [sys.executable, "-m", "vsrc"]
    # Started in this order, stopped in the reverse one: the API first (no new work), the worker last.
    supervisor = Supervisor(
        [("worker", [*vsrc, "worker"]), ("ingest", [*vsrc, "ingest"]), ("api", [*vsrc, "api"])],
        env=os.environ.copy(),
    )
    raise typer.Exit(supervisor.run())


@app.command()
def doctor() -> None:
    """Check ffmpeg, the database, storage and the queue; print what is wrong."""
    from vsrc.doctor import run_checks

    runtime = _runtime()
    problems = 0
    out = Console(width=200, soft_wrap=True)
    for name, ok, detail in run_checks(runtime):
        mark = "[green]  ok[/green]" if ok else "[red]FAIL[/red]"
        out.print(f"{mark}  {name}: {detail}", highlight=False)
        problems += not ok
    raise typer.Exit(1 if problems else 0)


@keys_app.command("create")
def keys_create(
    name: Annotated[str, typer.Option(help="A name to recognise the key by")],
    permission: Annotated[str, typer.Option(help="read or write")] = "read",
    account: Annotated[str, typer.Option(help="Account email (created if missing)")] = "admin@localhost",
) -> None:
    """Create an API key; the key is printed alone on the last line (shown once)."""
    from vsrc.db.session import transaction
    from vsrc.services.keys import create_key

    try:
        with transaction(_runtime().sessions) as session:
            created = create_key(session, name=name, permission=permission, account_email=account)
    except VsrcError as exc:
        err.print(f"[red]error:[/red] {exc.message} {getattr(exc, 'errors', '')}")
        raise typer.Exit(2) from exc
    err.print(f"Created {permission} key '{name}' for {account}. Store it now: it is not shown again.")
    typer.echo(created.plaintext)


@keys_app.command("list")
def keys_list() -> None:
    """List API keys (prefix, name, permission, account, last use, revoked)."""
    from vsrc.db.session import transaction
    from vsrc.services.keys import list_keys
    from vsrc.timeutil import iso_ms

    table = Table("prefix", "name", "permission", "account", "created", "last used", "revoked")
    with transaction(_runtime().sessions) as session:
        for key, email in list_keys(session):
            table.add_row(
                key.prefix,
                key.name,
                key.permission,
                email,
                iso_ms(key.created_at),
                iso_ms(key.last_used_at) if key.last_used_at else "-",
                iso_ms(key.revoked_at) if key.revoked_at else "-",
            )
    Console(width=200).print(table)


@keys_app.command("revoke")
def keys_revoke(prefix: Annotated[str, typer.Argument(help="The key's prefix (or the whole key)")]) -> None:
    """Revoke an API key; requests with it get 401 from now on."""
    from vsrc.db.session import transaction
    from vsrc.services.keys import revoke_key

    try:
        with transaction(_runtime().sessions) as session:
            key = revoke_key(session, prefix=prefix)
    except VsrcError as exc:
        err.print(f"[red]error:[/red] {exc.message}")
        raise typer.Exit(2) from exc
    typer.echo(f"revoked {key.prefix} ({key.name})")


@users_app.command("create")
def users_create(
    email: Annotated[str, typer.Option(help="The user's email (their sign-in name)")],
    account: Annotated[
        str | None, typer.Option(help="Account email (created if missing; default: the user's email)")
    ] = None,
) -> None:
    """Create a dashboard user; the password is read from stdin (first line), never from arguments."""
    from vsrc.db.session import transaction
    from vsrc.services.users import create_user

    runtime = _runtime()
    password = sys.stdin.readline().rstrip("\r\n")
    try:
        with transaction(runtime.sessions) as session:
            user = create_user(session, email=email, password=password, account_email=account)
            account_email = user.account.email
    except VsrcError as exc:
        err.print(f"[red]error:[/red] {exc.message} {getattr(exc, 'errors', '')}")
        raise typer.Exit(2) from exc
    typer.echo(f"created user {user.email} of account {account_email}")
    err.print(f"Sign in at {runtime.settings.public_url}/login")


@servers_app.command("add")
def servers_add(
    name: Annotated[str, typer.Option(help="A name for the server")],
    region: Annotated[str, typer.Option(help="Region, e.g. us-east")],
    rtmp_url: Annotated[str, typer.Option(help="Public RTMP URL, e.g. rtmp://east.example.com/live")],
) -> None:
    """Register an RTMP ingest server; prints its id (run `vsrc ingest --server-id ID` there)."""
    from vsrc.db.models import RtmpServer
    from vsrc.db.session import transaction

    runtime = _runtime()
    if not rtmp_url.startswith(("rtmp://", "rtmps://")):
        err.print("[red]error:[/red] --rtmp-url must start with rtmp:// or rtmps://")
        raise typer.Exit(2)
    with transaction(runtime.sessions) as session:
        server = RtmpServer(name=name, region=region, rtmp_url=rtmp_url.rstrip("/"), status="offline")
        session.add(server)
        session.flush()
        server_id = server.id
    typer.echo(server_id)


@servers_app.command("list")
def servers_list() -> None:
    """List RTMP servers with region, URL, status and last heartbeat."""
    from sqlalchemy import select

    from vsrc.db.models import RtmpServer
    from vsrc.db.session import transaction
    from vsrc.timeutil import iso_ms

    table = Table("id", "name", "region", "rtmp url", "status", "last heartbeat")
    with transaction(_runtime().sessions) as session:
        for s in session.scalars(select(RtmpServer).order_by(RtmpServer.id)):
            beat = iso_ms(s.last_heartbeat_at) if s.last_heartbeat_at else "-"
            table.add_row(str(s.id), s.name, s.region, s.rtmp_url, s.status, beat)
    Console(width=200).print(table)


def main() -> None:
    app()
