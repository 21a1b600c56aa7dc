"""Secrets out of what VSRC prints and logs: passwords in service URLs, secrets in query strings.

Pure helpers; the one piece of wiring is :func:`install_access_log_redaction`, which the API app
calls so that uvicorn's access log (it logs every path *with* its query string) never shows
``?secret=...`` of the nginx-rtmp hooks.
"""

from __future__ import annotations

import logging
import re
from urllib.parse import unquote, urlsplit, urlunsplit

MASK = "***"
SECRET_QUERY_PARAMS = ("secret",)
_QUERY_SECRET = re.compile(r"(?i)([?&](?:" + "|".join(SECRET_QUERY_PARAMS) + r")=)[^&#\s\"]*")


def redact_url(url: str) -> str:
    """``url`` with the password of its user-info replaced by ``***`` (``redis://:pw@h`` too);
    anything that does not parse as a URL with a password is returned unchanged."""
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return url
    if not password:
        return url
    user = parts.username or ""
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{user}:{MASK}@{host}"))


def scrub_passwords(text: str, *urls: str | None) -> str:
    """``text`` with every password of ``urls`` (raw and percent-decoded) replaced by ``***``."""
    for url in urls:
        try:
            parts = urlsplit(url or "")
            secrets = {parts.password or "", unquote(parts.password or "")} - {""}
        except ValueError:
            continue
        for secret in secrets:
            text = text.replace(secret, MASK)
    return text


def redact_query(text: str) -> str:
    """``text`` (a path, URL or log line) with the values of secret query parameters masked."""
    return _QUERY_SECRET.sub(r"\1" + MASK, text)


class QuerySecretFilter(logging.Filter):
    """Masks secret query parameters in a log record's arguments (uvicorn passes the request path
    as an argument of the access log message)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and any(isinstance(a, str) for a in record.args):
            record.args = tuple(redact_query(a) if isinstance(a, str) else a for a in record.args)
        return True


def install_access_log_redaction(logger_name: str = "uvicorn.access") -> None:
    """Add :class:`QuerySecretFilter` to ``logger_name`` once per process."""
    logger = logging.getLogger(logger_name)
    if not any(isinstance(f, QuerySecretFilter) for f in logger.filters):
        logger.addFilter(QuerySecretFilter())
