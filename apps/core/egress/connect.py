"""Checks at connection time: names resolved here (overridable in tests), every address and
the connected peer checked, and the refusal found behind a client's connection error."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

from apps.core.egress.policy import policy
from apps.core.egress.rules import EgressRefused, address_problem

Resolver = Callable[[str, int], list[str]]


def _system_resolve(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


_resolver: Resolver = _system_resolve


@contextmanager
def resolver_override(resolver: Resolver) -> Any:
    """Resolve names with ``resolver`` inside the block (tests: a name that points anywhere)."""
    global _resolver
    previous = _resolver
    _resolver = resolver
    try:
        yield
    finally:
        _resolver = previous


def resolve(host: str, port: int) -> list[str]:
    """The addresses of ``host`` (an IP literal resolves to itself)."""
    bare = host.strip("[]")
    try:
        ipaddress.ip_address(bare.split("%", 1)[0])
    except ValueError:
        return _resolver(bare, port)
    return [bare]


def allowed_addresses(host: str, port: int) -> list[str]:
    """The addresses of ``host`` that may be connected to; raises ``EgressRefused`` when one
    is refused (``OSError`` when the name does not resolve).

    Every address is checked; one refused address refuses the host, so a name cannot mix a
    public address with a private one and have the client fall back to the private one.
    """
    networks = policy().networks
    # A name that does not resolve is a network failure like any other (``socket.gaierror``,
    # retried by the callers), not a refusal.
    addresses = resolve(host, port)
    if not addresses:
        raise socket.gaierror(socket.EAI_NONAME, f"{host} resolves to no address")
    for address in addresses:
        problem = address_problem(address, networks)
        if problem:
            raise EgressRefused(f"{host} → {problem}")
    return addresses


def check_peer(sock: socket.socket) -> None:
    """Refuse a connected socket whose peer address the policy does not allow."""
    peer = sock.getpeername()
    address = str(peer[0]) if isinstance(peer, tuple) else str(peer)
    problem = address_problem(address, policy().networks)
    if problem:
        raise EgressRefused(problem)


def url_addresses_problem(url: str) -> str | None:
    """Resolve ``url``'s host now and say why it is refused, or ``None`` (a worker's pre-check,
    for a clear reason; the connection itself is checked again)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        allowed_addresses(host, port)
    except EgressRefused as exc:
        return str(exc)
    except OSError:
        # Unresolvable now: the call itself fails and is retried like an unreachable endpoint.
        return None
    return None


def guarded_socket(addr_info: tuple[Any, ...]) -> socket.socket:
    """aiohttp's ``socket_factory``: a socket for one resolved address, refused when the
    address is not allowed (called for every address aiohttp tries, IP literals included)."""
    family, kind, proto, _canon, sockaddr = addr_info
    problem = address_problem(str(sockaddr[0]), policy().networks)
    if problem:
        raise EgressRefused(problem)
    return socket.socket(family=family, type=kind, proto=proto)


def refusal_in(exc: BaseException) -> EgressRefused | None:
    """The ``EgressRefused`` behind an HTTP client's connection error, if that was the cause
    (clients wrap it: aiohttp as ``os_error``, httpx and the SDK as causes)."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        current = todo.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, EgressRefused):
            return current
        todo += [current.__cause__, current.__context__, getattr(current, "os_error", None)]
    return None
