"""The client's address: the peer's, or X-Forwarded-For's when the peer is a trusted proxy."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TypeAlias

Network: TypeAlias = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True, slots=True)
class TrustedProxies:
    """The peers whose X-Forwarded-For is believed (uvicorn's `forwarded_allow_ips`)."""

    networks: tuple[Network, ...] = ()
    everyone: bool = False

    @classmethod
    def parse(cls, raw: str) -> TrustedProxies:
        """Comma-separated addresses and networks (CIDR), or `*` for every peer.

        Raises ValueError naming the first item that is neither.
        """
        items = [item.strip() for item in raw.split(",") if item.strip()]
        if items == ["*"]:
            return cls(everyone=True)
        networks = []
        for item in items:
            try:
                networks.append(ipaddress.ip_network(item, strict=False))
            except ValueError:
                raise ValueError(f"{item!r} is not an IP address or network") from None
        return cls(networks=tuple(networks))

    def __contains__(self, host: str) -> bool:
        if self.everyone:
            return True
        if not self.networks:
            return False
        ip = _ip(host)
        return ip is not None and any(ip in network for network in self.networks)


def client_address(
    headers: Sequence[tuple[bytes, bytes]], client: Iterable[object] | None, trusted: TrustedProxies
) -> str | None:
    """The address of the client that made the request, as far as it can be believed.

    `headers` are the ASGI scope's raw headers, `client` its (host, port) of the
    direct peer. When the peer is a trusted proxy, the client is the right-most
    X-Forwarded-For entry that is not itself a trusted proxy: every proxy appends
    the address it heard from, so entries to the left of that one are whatever the
    client chose to send.
    """
    peer = _peer(client)
    if peer is None or peer not in trusted:
        return peer
    forwarded = [
        host
        for name, value in headers
        if name == b"x-forwarded-for"
        for host in (_host(entry) for entry in value.decode("latin-1").split(","))
        if host
    ]
    if trusted.everyone:
        return forwarded[0] if forwarded else peer
    for host in reversed(forwarded):
        if host not in trusted:
            return host
    # Every hop a trusted proxy: the left-most is as far back as the chain goes.
    return forwarded[0] if forwarded else peer


def _peer(client: Iterable[object] | None) -> str | None:
    if client is None:
        return None
    host = next(iter(client), None)
    return host if isinstance(host, str) and host else None


def _host(entry: str) -> str:
    """An X-Forwarded-For entry without its port (`1.2.3.4:80`, `[::1]:80`)."""
    entry = entry.strip()
    if entry.startswith("["):
        entry = entry[1:].partition("]")[0]
    elif entry.count(":") == 1:
        entry = entry.partition(":")[0]
    return _normalised(entry)


def _normalised(host: str) -> str:
    ip = _ip(host)
    return host if ip is None else str(ip)


def _ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip
