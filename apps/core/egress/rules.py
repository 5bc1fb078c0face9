"""The egress rules as pure functions: the operator's settings parsed, a URL's syntax and
prefix match, whether an address is public or in an allowed network."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Sequence
from urllib.parse import urlsplit

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
