"""Where workers may send requests: the operator's keys, endpoints and networks.

Judge configs and project webhooks are written by authors and admins, but the requests they
cause leave from the workers, inside the operator's network and with the operator's secrets.
Three rules keep those requests where the operator wants them:

1. **Keys.** A judge config names an environment variable whose value the worker sends as a
   bearer token. Only the names the operator declares (``RUBRICSTUDIO_JUDGE_KEYS``) may be
   named, each only with the endpoints declared for it, and the studio's own secrets can never
   be declared (settings refuse to load).
2. **URLs.** Judge endpoints and webhook URLs must start with an entry of
   ``RUBRICSTUDIO_EGRESS_ALLOWLIST`` (``*`` allows any; the embedded default). A keyed judge's
   endpoint must be one declared for its key, whatever the allowlist says.
3. **Addresses.** Every address a worker connects to must be a public one, or lie in one of
   ``RUBRICSTUDIO_EGRESS_NETWORKS`` (loopback and private ranges by default outside
   production, none in production). The check runs on the address actually connected to, in
   the HTTP clients' connection step (``GuardedAsyncBackend``, ``GuardedSyncBackend``,
   ``guarded_socket``), so a name that resolved to a public address when a config was checked
   and to ``169.254.169.254`` a second later (DNS rebinding) is still refused.

Pure functions first (parsing settings, checking a URL or an address), then the guarded
transports used by the judge backend and the webhook sender.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpcore
import httpcore2
from aiohttp.abc import AbstractResolver, ResolveResult

ENV_NAME_RE = re.compile(r"^[A-Z_][A-Z0-9_]{0,99}$")
# The endpoint the openai SDK calls when a config gives none. It is always made explicit: the
# SDK would otherwise read OPENAI_BASE_URL from the worker's environment.
DEFAULT_OPENAI_URL = "https://api.openai.com/v1"
ANY_URL = "*"

# The studio's own secrets and connection strings: never sent to a judge endpoint, so never
# declarable as a judge key. Prefixes cover the families (PGPASSWORD, REDIS_PASSWORD...).
STUDIO_SECRET_NAMES = frozenset(
    {"SECRET_KEY", "DJANGO_SECRET_KEY", "DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL"}
)
STUDIO_SECRET_PREFIXES = (
    "RUBRICSTUDIO_",
    "POSTGRES_",
    "PG",
    "DATABASE_",
    "REDIS_",
    "CELERY_",
    "EMAIL_",
    "DJANGO_",
)
# Non-public networks a development machine reaches without set-up: loopback (llama.cpp,
# vLLM, Ollama on the same machine) and private ranges (a GPU box on the LAN). Link-local
# (cloud metadata, 169.254.169.254) is never in it.
DEVELOPMENT_NETWORKS = (
    "127.0.0.0/8",
    "::1/128",
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "fc00::/7",
)

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class EgressRefused(OSError):
    """A connection the operator's policy does not allow; nothing was sent.

    An ``OSError`` so HTTP clients treat it as a failed connection (no bytes were written).
    """


# --- settings (pure) --------------------------------------------------------------------------


def is_studio_secret(name: str) -> bool:
    """Whether ``name`` is one of the studio's own secrets or connection strings."""
    upper = name.upper()
    return upper in STUDIO_SECRET_NAMES or upper.startswith(STUDIO_SECRET_PREFIXES)


def parse_judge_keys(raw: str) -> dict[str, tuple[str, ...]]:
    """``NAME=URL,NAME=URL2,...`` into ``{NAME: (URL, URL2)}``; raises ``ValueError``.

    A name may appear several times, once per endpoint it may be sent to.
    """
    keys: dict[str, list[str]] = {}
    for item in (part.strip() for part in raw.split(",")):
        if not item:
            continue
        name, sep, url = (s.strip() for s in item.partition("="))
        if not sep or not ENV_NAME_RE.match(name):
            raise ValueError(f"{item!r} is not NAME=URL (NAME in capitals, digits, underscores)")
        if is_studio_secret(name):
            raise ValueError(f"{name} is a secret of the studio itself and cannot be a judge key")
        problem = url_syntax_problem(url)
        if problem:
            raise ValueError(f"{name}: {problem}")
        keys.setdefault(name, []).append(normalize_url(url))
    return {name: tuple(urls) for name, urls in keys.items()}


def parse_allowlist(entries: Iterable[str]) -> tuple[str, ...]:
    """URL prefixes (or ``*``), normalised; raises ``ValueError`` for an entry that is no URL."""
    out: list[str] = []
    for entry in (e.strip() for e in entries):
        if not entry:
            continue
        if entry == ANY_URL:
            out.append(ANY_URL)
            continue
        problem = url_syntax_problem(entry)
        if problem:
            raise ValueError(f"{entry!r}: {problem}")
        out.append(normalize_url(entry))
    return tuple(out)


def parse_networks(entries: Iterable[str]) -> tuple[Network, ...]:
    """CIDR networks (``10.0.0.0/8``, ``::1/128``); raises ``ValueError``."""
    return tuple(ipaddress.ip_network(e.strip(), strict=False) for e in entries if e.strip())


# --- URLs and addresses (pure) ----------------------------------------------------------------


def normalize_url(url: str) -> str:
    """Lower-case scheme and host, no trailing slash: the form prefixes are compared in."""
    parts = urlsplit(url.strip())
    path = parts.path.rstrip("/")
    netloc = parts.netloc.lower()
    return f"{parts.scheme.lower()}://{netloc}{path}"


def url_syntax_problem(url: str) -> str | None:
    """Why ``url`` cannot be an endpoint at all (scheme, credentials, no host), or ``None``."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        return f"not a valid URL ({exc})"
    if parts.scheme.lower() not in ("http", "https"):
        return "only http and https URLs are allowed"
    if not parts.hostname:
        return "the URL has no host"
    if parts.username is not None or parts.password is not None:
        return "credentials in the URL are not allowed"
    if port == 0:
        return "port 0 is not a port"
    if parts.query or parts.fragment:
        return "an endpoint URL takes no query or fragment"
    return None


def url_matches(url: str, prefix: str) -> bool:
    """Whether ``url`` is ``prefix`` or below it (``https://h/v1`` matches ``https://h/v1/x``,
    not ``https://h/v10`` nor ``https://h.evil``)."""
    if prefix == ANY_URL:
        return True
    norm = normalize_url(url)
    return norm == prefix or norm.startswith(prefix + "/")


def url_allowed(url: str, allowlist: Sequence[str]) -> bool:
    """Whether ``url`` matches an entry of ``allowlist``."""
    return any(url_matches(url, prefix) for prefix in allowlist)


def address_problem(address: str, networks: Sequence[Network]) -> str | None:
    """Why connecting to ``address`` is refused, or ``None``.

    Public (globally routable) addresses are allowed; every other kind (loopback, private,
    link-local such as cloud metadata, shared, reserved, multicast, unspecified) only inside
    one of ``networks``. IPv4-mapped IPv6 addresses are judged as the IPv4 address they carry.
    """
    try:
        ip: Address = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return f"{address!r} is not an IP address"
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if any(ip in net for net in networks if net.version == ip.version):
        return None
    if ip.is_global and not ip.is_multicast:
        return None
    kind = (
        "unspecified"
        if ip.is_unspecified
        else "loopback"
        if ip.is_loopback
        else "link-local (cloud metadata)"
        if ip.is_link_local
        else "private"
        if ip.is_private
        else "non-public"
    )
    return (
        f"{ip} is a {kind} address, not in RUBRICSTUDIO_EGRESS_NETWORKS; the operator has not "
        "allowed it"
    )


# --- the policy from settings -----------------------------------------------------------------


@dataclass(frozen=True)
class Policy:
    """The operator's egress settings, read once per check."""

    judge_keys: Mapping[str, tuple[str, ...]]
    allowlist: tuple[str, ...]
    networks: tuple[Network, ...]


def policy() -> Policy:
    """The current policy (read at each call, so tests and reloaded settings take effect)."""
    from django.conf import settings

    return Policy(
        judge_keys=dict(settings.RUBRICSTUDIO_JUDGE_KEYS),
        allowlist=tuple(settings.RUBRICSTUDIO_EGRESS_ALLOWLIST),
        networks=tuple(settings.RUBRICSTUDIO_EGRESS_NETWORKS),
    )


def literal_address_problem(url: str) -> str | None:
    """For a URL whose host is an IP address, why that address is refused (no resolution:
    a host name is checked when a worker connects)."""
    host = urlsplit(url).hostname or ""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return None
    return address_problem(host, policy().networks)


def _sentence(problem: str) -> str:
    return problem[0].upper() + problem[1:] + ("" if problem.endswith(".") else ".")


def judge_endpoint_errors(*, base_url: str, api_key_env: str) -> dict[str, list[str]]:
    """Field errors of a judge's key and endpoint under the current policy (no network use)."""
    current = policy()
    errors: dict[str, list[str]] = {}
    url = base_url or DEFAULT_OPENAI_URL
    problem = url_syntax_problem(url) or literal_address_problem(url)
    if problem:
        return {"base_url": [_sentence(problem)]}
    if api_key_env:
        if is_studio_secret(api_key_env):
            errors["api_key_env"] = [
                f"{api_key_env} is a secret of the studio itself; it is never sent to a judge."
            ]
        elif api_key_env not in current.judge_keys:
            declared = ", ".join(sorted(current.judge_keys)) or "none"
            errors["api_key_env"] = [
                f"{api_key_env} is not a judge key declared by the operator "
                f"(RUBRICSTUDIO_JUDGE_KEYS; declared: {declared})."
            ]
        elif not url_allowed(url, current.judge_keys[api_key_env]):
            allowed = ", ".join(current.judge_keys[api_key_env])
            errors["base_url"] = [
                f"{api_key_env} may only be sent to {allowed}; the operator has not allowed "
                f"{normalize_url(url)} for it."
            ]
        return errors
    if not url_allowed(url, current.allowlist):
        errors["base_url"] = [
            f"{normalize_url(url)} is not in the operator's endpoint allowlist "
            "(RUBRICSTUDIO_EGRESS_ALLOWLIST)."
        ]
    return errors


def webhook_url_problem(url: str) -> str | None:
    """Why a webhook URL is refused under the current policy (no network use), or ``None``."""
    problem = url_syntax_problem(url) or literal_address_problem(url)
    if problem:
        return _sentence(problem)
    if not url_allowed(url, policy().allowlist):
        return (
            f"{normalize_url(url)} is not in the operator's allowlist "
            "(RUBRICSTUDIO_EGRESS_ALLOWLIST)."
        )
    return None


# --- resolution and connection-time checks ----------------------------------------------------

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
