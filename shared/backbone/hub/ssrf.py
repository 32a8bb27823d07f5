"""The SSRF guard of hub callbacks: where the hub may POST.

A callback must be an absolute http(s) URL whose host resolves only to global addresses. Loopback,
private (RFC 1918, fc00::/7, so also AWS's fd00:ec2::254), link-local (169.254.0.0/16 with the cloud
metadata service 169.254.169.254, fe80::/10), shared (100.64.0.0/10), multicast, reserved and
unspecified addresses are refused, also when written as an IPv4-mapped IPv6 address, unless an
entry of the allow-list (`HUB_CALLBACK_ALLOW`: CIDRs and host names) admits them. The check runs at
registration (422 naming `callback`) and again before every attempt (DNS may have changed since).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from backbone.errors import Invalid

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class CallbackRefused(Invalid):
    """The callback is not a URL the hub may call: 422 naming `callback`."""

    code = "callback_refused"

    def __init__(self, message: str) -> None:
        super().__init__(message, field="callback")


@dataclass(frozen=True)
class CallbackPolicy:
    """The allow-list: networks and host names the hub may call although they are not global."""

    networks: tuple[IPNetwork, ...] = ()
    hosts: frozenset[str] = frozenset()

    @classmethod
    def parse(cls, entries: Iterable[str]) -> CallbackPolicy:
        networks: list[IPNetwork] = []
        hosts: set[str] = set()
        for entry in entries:
            entry = entry.strip()
            if not entry:
                continue
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                hosts.add(entry.lower().rstrip("."))
        return cls(tuple(networks), frozenset(hosts))

    def admits(self, address: IPAddress) -> bool:
        return any(address in net for net in self.networks if net.version == address.version)


def classify(address: IPAddress) -> str | None:
    """Why an address is refused ("loopback", "private", ...), or None for a global address."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return classify(address.ipv4_mapped)
    if address.is_unspecified:
        return "unspecified"
    if address.is_loopback:
        return "loopback"
    if address.is_link_local:
        return "link-local (cloud metadata)" if str(address) == "169.254.169.254" else "link-local"
    if str(address) == "fd00:ec2::254":
        return "cloud metadata"
    if address.is_multicast:
        return "multicast"
    if address.is_private:
        return "private"
    if address.is_reserved:
        return "reserved"
    if not address.is_global:
        return "not global"
    return None


def split_callback(url: str) -> tuple[str, str]:
    """(scheme, host) of a callback URL, or `CallbackRefused`."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port  # noqa: F841 - raises on a bad port
    except ValueError as exc:
        raise CallbackRefused(f"callback is not a valid URL: {exc}") from None
    if parts.scheme not in ("http", "https"):
        raise CallbackRefused("callback must be an http:// or https:// URL")
    if not parts.hostname:
        raise CallbackRefused("callback has no host")
    if parts.username is not None or parts.password is not None:
        raise CallbackRefused("callback may not carry credentials in the URL")
    return parts.scheme, parts.hostname.lower().rstrip(".")


async def resolve(host: str) -> list[IPAddress]:
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise CallbackRefused(f"callback host {host!r} does not resolve: {exc}") from None
    return list(dict.fromkeys(ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos))


async def check_callback(url: str, policy: CallbackPolicy) -> None:
    """Refuse (`CallbackRefused`, 422 naming `callback`) a URL the hub may not call under `policy`."""
    _, host = split_callback(url)
    if host in policy.hosts:
        return
    addresses = await resolve(host)
    if not addresses:
        raise CallbackRefused(f"callback host {host!r} has no address")
    for address in addresses:
        why = classify(address)
        if why is not None and not policy.admits(address):
            raise CallbackRefused(
                f"callback host {host!r} resolves to a {why} address ({address}); the hub calls only public "
                "addresses unless HUB_CALLBACK_ALLOW admits it")
