"""``vsrc storage``: the operator's storage commands — the orphan sweep and the move to S3."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from vsrc.errors import VsrcError

storage_app = typer.Typer(help="Sweep orphaned files; migrate a local library to S3.", no_args_is_help=True)
err = Console(stderr=True)


def _fail(message: str) -> typer.Exit:
    err.print(f"[red]error:[/red] {message}", highlight=False)
    return typer.Exit(2)


def _human(seconds: float) -> str:
    if seconds >= 86400:
        return f"{seconds / 86400:.1f}d"
    return f"{seconds / 3600:.1f}h" if seconds >= 3600 else f"{seconds:.0f}s"


@storage_app.command("sweep")
def sweep(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print what would be removed, remove nothing")
    ] = False,
    older_than: Annotated[
        str | None,
        typer.Option(
            "--older-than",
            help="Only items untouched this long: 90s, 30m, 12h, 1d (default VSRC_ORPHAN_MIN_AGE)",
        ),
    ] = None,
) -> None:
    """Remove stored files of items that have no row (left by killed processes), untouched for a day."""
    from vsrc.cli import _runtime
    from vsrc.cli_tokens import parse_duration
    from vsrc.services.orphans import find_orphans, remove_orphans

    runtime = _runtime()
    try:
        min_age = runtime.settings.orphan_min_age if older_than is None else parse_duration(older_than)
    except ValueError as exc:
        raise _fail(f"--older-than: {exc}") from exc
    try:
        orphans = find_orphans(runtime.sessions, runtime.storage, min_age=min_age)
        verb = "would remove" if dry_run else "removed"
        for orphan in orphans:
            files = 0 if dry_run else remove_orphans(runtime.storage, [orphan])
            count = "" if dry_run else f" ({files} files)"
            typer.echo(
                f"{verb} {orphan.item}: {', '.join(orphan.prefixes)}, untouched {_human(orphan.age)}{count}"
            )
    except VsrcError as exc:
        raise _fail(exc.message) from exc
    finally:
        runtime.close()
    typer.echo(
        f"{len(orphans)} orphaned item(s) {verb if orphans else 'found'} (older than {_human(min_age)})"
    )


@storage_app.command("migrate")
def migrate(
    to: Annotated[str, typer.Option("--to", help="The bucket: s3://BUCKET[/PREFIX]?endpoint=…&region=…")],
) -> None:
    """Copy the local library to an S3 bucket (resumable, idempotent, verified); print the setting."""
    from vsrc.cli import _settings
    from vsrc.runtime import Runtime
    from vsrc.services.orphans import ITEM_FOLDERS, items_with_rows
    from vsrc.storage.local import LocalStorage
    from vsrc.storage.migrate import Items
    from vsrc.storage.migrate import migrate as copy_library
    from vsrc.storage.s3 import S3Storage
    from vsrc.storage.url import FileLocation, S3Location, parse_storage_url

    settings = _settings()
    source = settings.storage_location
    if not isinstance(source, FileLocation):
        raise _fail(f"VSRC_STORAGE_URL is already {source.describe()}: migrate copies a local library")
    try:
        location = parse_storage_url(to)
    except ValueError as exc:
        raise _fail(f"--to: {exc}") from exc
    if not isinstance(location, S3Location):
        raise _fail("--to must be an s3:// URL")
    runtime = Runtime(settings)
    try:
        local, target = runtime.storage, runtime.storage_at(location)
        assert isinstance(local, LocalStorage) and isinstance(target, S3Storage)  # the locations say so
        target.verify()
        err.print(f"copying {source.root} to {location.describe()}")

        def progress(action: str, key: str, size: int) -> None:
            typer.echo(f"{action} {key} ({size} bytes)")

        items = Items(ITEM_FOLDERS, lambda names: items_with_rows(runtime.sessions, names))
        report = copy_library(local, target, items=items, progress=progress)
    except VsrcError as exc:
        raise _fail(exc.message) from exc
    finally:
        runtime.close()
    typer.echo(
        f"{report.objects} objects verified in the bucket: {len(report.copied)} copied "
        f"({report.bytes_copied} bytes), {report.skipped} already there, {len(report.recopied)} copied "
        f"again after verification, {report.aborted_uploads} unfinished upload(s) of an earlier run ended, "
        f"{len(report.removed)} object(s) removed that the library no longer holds"
    )
    err.print(
        "Switch every vsrc process (api, worker, ingest) to the bucket: stop them, run this command "
        "once more (it copies what changed meanwhile), set the line below in their environment, and start "
        f"them. The local files in {source.root} are left as they are; remove them once the bucket serves."
    )
    typer.echo(f"VSRC_STORAGE_URL={to}")
