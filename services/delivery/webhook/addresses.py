"""Where a webhook may be sent: http(s) only, and, unless an operator allows it, never to
the platform's own network (loopback, private, link-local and other special addresses),
so an endpoint cannot make the platform call its own internals.

The check runs in the resolver the sender connects with: the addresses a request goes
to are the addresses checked, so a name that resolves to a public address when it is
registered and to a private one later (DNS rebinding) is still refused.
"""

import ipaddress
import socket
from typing import Any
from urllib.parse import urlsplit

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

from services.kit.errors import FieldError, InvalidRequest

SCHEMES = frozenset({"http", "https"})


class UnsafeAddress(OSError):
    """Every address the name resolves to is one webhooks may not reach."""


def refused_address(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not ip.is_global or ip.is_multicast


class WebhookResolver(AbstractResolver):
    """The default resolver, keeping only addresses webhooks may reach."""

    def __init__(self, *, allow_private: bool) -> None:
        # Made on first use: it binds to the running event loop.
        self._resolver: AbstractResolver | None = None
        self._allow_private = allow_private

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        if self._resolver is None:
            self._resolver = DefaultResolver()
        found = await self._resolver.resolve(host, port, family)
        if self._allow_private:
            return found
        allowed = [result for result in found if not refused_address(result["host"])]
        if not allowed:
            raise UnsafeAddress(f"{host} resolves only to addresses webhooks may not reach")
        return allowed

    async def close(self) -> None:
        if self._resolver is not None:
            await self._resolver.close()


def _refused(problem: str, code: str) -> InvalidRequest:
    return InvalidRequest(f"the URL {problem}", fields=[FieldError("url", problem, code)])


async def check_url(url: str, resolver: WebhookResolver) -> None:
    """Refuses a URL webhooks may not be sent to, with the reason in the lab's words."""
    parts = urlsplit(url)
    if parts.scheme not in SCHEMES:
        raise _refused("must start with http:// or https://", "scheme")
    if not parts.hostname:
        raise _refused("names no host", "no_host")
    if parts.username or parts.password:
        raise _refused("must not carry a user name or password", "credentials")
    try:
        port: Any = parts.port or (443 if parts.scheme == "https" else 80)
        await resolver.resolve(parts.hostname, port, socket.AF_UNSPEC)
    except UnsafeAddress as exc:
        raise _refused(
            "points at a loopback, private or otherwise internal address", "private_address"
        ) from exc
    except (OSError, ValueError) as exc:
        raise _refused(f"names a host that cannot be resolved ({exc})", "unresolvable") from exc
