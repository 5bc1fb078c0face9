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

The package by concern: ``rules`` (pure: parsing settings, checking a URL or an address),
``policy`` (the settings and the checks of a config before anything is sent), ``connect``
(resolution and connection-time checks) and ``transports`` (the guarded HTTP clients used by
the judge backend and the webhook sender).
"""

from apps.core.egress.connect import (
    Resolver,
    allowed_addresses,
    check_peer,
    guarded_socket,
    refusal_in,
    resolve,
    resolver_override,
    url_addresses_problem,
)
from apps.core.egress.policy import (
    Policy,
    judge_endpoint_errors,
    literal_address_problem,
    policy,
    webhook_url_problem,
)
from apps.core.egress.rules import (
    ANY_URL,
    DEFAULT_OPENAI_URL,
    DEVELOPMENT_NETWORKS,
    ENV_NAME_RE,
    STUDIO_SECRET_NAMES,
    STUDIO_SECRET_PREFIXES,
    Address,
    EgressRefused,
    Network,
    address_problem,
    is_studio_secret,
    normalize_url,
    parse_allowlist,
    parse_judge_keys,
    parse_networks,
    url_allowed,
    url_matches,
    url_syntax_problem,
)
from apps.core.egress.transports import (
    GuardedAsyncBackend,
    GuardedSyncBackend,
    openai_http_client,
    sync_http_client,
)

__all__ = [
    "ANY_URL",
    "DEFAULT_OPENAI_URL",
    "DEVELOPMENT_NETWORKS",
    "ENV_NAME_RE",
    "STUDIO_SECRET_NAMES",
    "STUDIO_SECRET_PREFIXES",
    "Address",
    "EgressRefused",
    "GuardedAsyncBackend",
    "GuardedSyncBackend",
    "Network",
    "Policy",
    "Resolver",
    "address_problem",
    "allowed_addresses",
    "check_peer",
    "guarded_socket",
    "is_studio_secret",
    "judge_endpoint_errors",
    "literal_address_problem",
    "normalize_url",
    "openai_http_client",
    "parse_allowlist",
    "parse_judge_keys",
    "parse_networks",
    "policy",
    "refusal_in",
    "resolve",
    "resolver_override",
    "sync_http_client",
    "url_addresses_problem",
    "url_allowed",
    "url_matches",
    "url_syntax_problem",
    "webhook_url_problem",
]
