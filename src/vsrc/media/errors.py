"""Exceptions raised by :mod:`vsrc.media`."""

from __future__ import annotations


class MediaError(Exception):
    """Base class of every error raised by :mod:`vsrc.media`."""


class ProbeError(MediaError):
    """The file is not a decodable video in one of the accepted containers.

    The message is human readable and never contains the file path, so it can be shown to API
    users as is (the upload endpoint answers 415 with it).
    """


class SourceReadError(MediaError):
    """A source URL (``Storage.readable`` on S3) could not be read: the connection failed or the
    server answered an error. Not a verdict on the file; a retry may succeed."""


class EncodeError(MediaError):
    """An ffmpeg run failed.

    ``permanent`` is True when retrying cannot help (the input is invalid or undecodable); False
    when the run was killed (signal, timeout, worker shutdown) or failed for a reason that may be
    transient (disk full, I/O error), so the job may be retried from a clean state.
    ``str(err)`` is a short human-readable message without file paths (fit for ``errorMessage``);
    ``stderr_tail`` holds the last lines ffmpeg wrote, for logs.
    """

    def __init__(
        self,
        message: str,
        *,
        permanent: bool,
        stderr_tail: str = "",
        returncode: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.permanent = permanent
        self.stderr_tail = stderr_tail
        self.returncode = returncode

    def __reduce__(self) -> tuple[object, ...]:
        # Keep keyword-only arguments when pickled (task queues pickle exceptions).
        return (_rebuild_encode_error, (self.message, self.permanent, self.stderr_tail, self.returncode))


def _rebuild_encode_error(
    message: str, permanent: bool, stderr_tail: str, returncode: int | None
) -> EncodeError:
    return EncodeError(message, permanent=permanent, stderr_tail=stderr_tail, returncode=returncode)
