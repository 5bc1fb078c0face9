"""The policy from settings, and the checks of a judge's key and endpoint and of a webhook URL
that forms and services run before anything is sent (no network use)."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from apps.core.egress.rules import (
    DEFAULT_OPENAI_URL,
    Network,
    address_problem,
    is_studio_secret,
    normalize_url,
    url_allowed,
    url_syntax_problem,
)


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
