"""The guarded HTTP transports: httpcore network backends (sync and async) and aiohttp's
resolver and socket factory, each connecting only to allowed addresses; the clients built
on them for webhooks and for the openai SDK."""

from __future__ import annotations

import socket
from collections.abc import Iterable
from typing import Any

import httpcore
import httpcore2
from aiohttp.abc import AbstractResolver, ResolveResult

from apps.core.egress.connect import allowed_addresses, check_peer, guarded_socket
from apps.core.egress.rules import EgressRefused


class GuardedAsyncBackend(httpcore2.AsyncNetworkBackend):
    """An httpcore network backend (async) that connects only to allowed addresses.

    It resolves the host itself (``resolve``), checks every address, connects to the first
    and checks the connected peer again; TLS still verifies the original host name, since
    httpcore passes it to ``start_tls`` separately.
    """

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> Any:
        import anyio

        addresses = await anyio.to_thread.run_sync(allowed_addresses, host, port)
        stream = await self._inner.connect_tcp(
            addresses[0], port, timeout, local_address, socket_options
        )
        try:
            check_peer(stream.get_extra_info("socket"))
        except EgressRefused:
            await stream.aclose()
            raise
        return stream

    async def connect_unix_socket(self, *args: Any, **kwargs: Any) -> Any:
        raise EgressRefused("unix sockets are not an egress the studio uses")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class GuardedSyncBackend(httpcore.NetworkBackend):
    """The synchronous twin of ``GuardedAsyncBackend`` (webhook deliveries)."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> Any:
        addresses = allowed_addresses(host, port)
        stream = self._inner.connect_tcp(addresses[0], port, timeout, local_address, socket_options)
        try:
            check_peer(stream.get_extra_info("socket"))
        except EgressRefused:
            stream.close()
            raise
        return stream

    def connect_unix_socket(self, *args: Any, **kwargs: Any) -> Any:
        raise EgressRefused("unix sockets are not an egress the studio uses")

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


def sync_http_client(*, timeout: float) -> Any:
    """An ``httpx.Client`` whose connections pass the address check (webhooks).

    httpx takes no network backend, so its transport's pool is replaced by an httpcore pool
    built with one (``httpcore.ConnectionPool(network_backend=...)`` is public httpcore API).
    No proxy from the environment: a proxy would connect on the worker's behalf, unchecked.
    """
    import httpx

    transport = httpx.HTTPTransport(trust_env=False)
    transport._pool = httpcore.ConnectionPool(
        ssl_context=httpx.create_ssl_context(trust_env=False),
        network_backend=GuardedSyncBackend(httpcore.SyncBackend()),
    )
    return httpx.Client(transport=transport, timeout=timeout, trust_env=False)


def openai_http_client(choice: str, *, timeout: float) -> Any:
    """The HTTP client for the openai SDK, every connection checked against the policy.

    ``choice``: ``auto`` (aiohttp when installed, as the SDK recommends for many concurrent
    requests), ``aiohttp`` or ``httpx`` (the SDK's own transport). aiohttp is given a
    ``socket_factory`` that refuses disallowed addresses and a resolver that goes through
    ``resolve``; httpx gets a pool with ``GuardedAsyncBackend``. Neither reads a proxy from the
    environment.
    """
    import httpx2
    import openai

    use_aiohttp = choice != "httpx"
    if use_aiohttp:
        try:
            import aiohttp
        except ImportError:
            if choice == "aiohttp":
                raise
            use_aiohttp = False
    if use_aiohttp:
        from openai._vendor.httpx_aiohttp.transport import AiohttpTransport

        ssl_context = httpx2.create_ssl_context(trust_env=False)

        def session() -> aiohttp.ClientSession:
            connector = aiohttp.TCPConnector(
                ssl=ssl_context, resolver=_GuardedAiohttpResolver(), socket_factory=guarded_socket
            )
            return aiohttp.ClientSession(connector=connector, trust_env=False)

        return openai.DefaultAioHttpClient(
            timeout=timeout, transport=AiohttpTransport(client=session, trust_env=False)
        )
    transport = httpx2.AsyncHTTPTransport(trust_env=False)
    transport._pool = httpcore2.AsyncConnectionPool(
        ssl_context=httpx2.create_ssl_context(trust_env=False),
        max_connections=1000,
        max_keepalive_connections=100,
        network_backend=GuardedAsyncBackend(httpcore2.AnyIOBackend()),
    )
    return openai.DefaultAsyncHttpxClient(timeout=timeout, transport=transport, trust_env=False)


class _GuardedAiohttpResolver(AbstractResolver):
    """aiohttp resolver that resolves through ``resolve`` and keeps only allowed addresses."""

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        import asyncio

        addresses = await asyncio.to_thread(allowed_addresses, host, port)
        return [
            ResolveResult(
                hostname=host,
                host=address,
                port=port,
                family=socket.AF_INET6 if ":" in address else socket.AF_INET,
                proto=0,
                flags=socket.AI_NUMERICHOST,
            )
            for address in addresses
        ]

    async def close(self) -> None:
        return None
