"""Webhook URLs: shape checks, and SSRF protection by the addresses a host resolves to.

Checked when a webhook is saved and again at every delivery (a name may resolve elsewhere later:
DNS rebinding); the delivery then connects to the very address it checked (``Target.address``).
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

MAX_URL_LENGTH = 2048

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class TargetRefused(Exception):
    """The URL is malformed, does not resolve, or resolves to an address we may not call."""


@dataclass(frozen=True)
class Target:
    """A checked URL and the address to connect to."""

    url: str
    scheme: str
    host: str
    port: int
    address: str

    @property
    def pinned_url(self) -> str:
        """The URL with the host replaced by the checked address (sent with the original ``Host``)."""
        parts = urlsplit(self.url)
        host = f"[{self.address}]" if ":" in self.address else self.address
        return urlunsplit((parts.scheme, f"{host}:{self.port}", parts.path or "/", parts.query, ""))

    @property
    def host_header(self) -> str:
        default = 443 if self.scheme == "https" else 80
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == default else f"{host}:{self.port}"


def check_url_shape(url: str) -> str:
    """The URL stripped, or ``TargetRefused`` naming what is wrong with it."""
    url = url.strip()
    if not url or len(url) > MAX_URL_LENGTH:
        raise TargetRefused(f"url is required and must be at most {MAX_URL_LENGTH} characters")
    if any(ch in url for ch in "\x00\r\n\t "):
        raise TargetRefused("url must not contain whitespace or control characters")
    try:
        parts = urlsplit(url)
    except ValueError as exc:  # e.g. an unclosed "[" of an IPv6 host
        raise TargetRefused(f"url is malformed: {exc}") from exc
    if parts.scheme not in ("http", "https"):
        raise TargetRefused("url must start with http:// or https://")
    if not parts.hostname:
        raise TargetRefused("url must name a host")
    if parts.username is not None or parts.password is not None:
        raise TargetRefused("url must not carry credentials")
    if parts.fragment:
        raise TargetRefused("url must not have a #fragment")
    try:
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError as exc:
        raise TargetRefused("url has an invalid port") from exc
    return url


NAT64 = ipaddress.IPv6Network("64:ff9b::/96")  # RFC 6052: the IPv4 address is the last 32 bits
NAT64_LOCAL = ipaddress.IPv6Network("64:ff9b:1::/48")  # RFC 8215: a site's own translators
IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")  # deprecated ::a.b.c.d


def embedded_ipv4(address: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address leads to through a translator or tunnel: mapped, NAT64,
    6to4, Teredo (server and client) and IPv4-compatible forms."""
    found = [address.ipv4_mapped, address.sixtofour, *(address.teredo or ())]
    if address in NAT64 or (address in IPV4_COMPATIBLE and int(address) > 1):
        found.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    return [a for a in found if a is not None]


def is_forbidden(address: IPAddress) -> bool:
    """Loopback, private, link-local, shared, reserved, multicast or unspecified: not the public
    internet; for IPv6, also any form that carries such an IPv4 address (``::ffff:127.0.0.1``,
    ``64:ff9b::10.0.0.1``, ``2002:c0a8:1::1``, Teredo) and local-use NAT64."""
    if isinstance(address, ipaddress.IPv6Address):
        if address in NAT64_LOCAL or any(is_forbidden(v4) for v4 in embedded_ipv4(address)):
            return True
        if address.ipv4_mapped is not None:  # judged by its IPv4 address alone
            return False
    return not address.is_global or address.is_multicast


def resolve(url: str, *, allow_private: bool) -> Target:
    """Resolve ``url``'s host and pick an address we may call; ``TargetRefused`` otherwise.

    Every resolved address must be allowed (a name answering one public and one private address
    is refused: which one a client would use is not ours to choose)."""
    url = check_url_shape(url)
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise TargetRefused(f"cannot resolve host {host!r}") from exc
    addresses = [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]
    if not addresses:
        raise TargetRefused(f"cannot resolve host {host!r}")
    if not allow_private:
        for address in addresses:
            if is_forbidden(address):
                raise TargetRefused(
                    f"host {host!r} resolves to {address}, a loopback, private or link-local address "
                    "(set VSRC_WEBHOOK_ALLOW_PRIVATE=true to allow it)"
                )
    return Target(url=url, scheme=parts.scheme, host=host, port=port, address=str(addresses[0]))
