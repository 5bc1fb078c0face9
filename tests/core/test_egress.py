"""The egress policy: settings parsing, URL and address rules, and the connect-time check on
real sockets (a loopback capture server records whether anything arrived)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import openai
import pytest
from openai.types.chat import ChatCompletion

from apps.core import egress
from tests.conftest import REPO
from tests.hostile.capture import capture_server

PUBLIC = "93.184.216.34"


@pytest.fixture
def production(settings: Any) -> Any:
    """Production egress settings: no non-public network, any URL (so addresses decide)."""
    settings.RUBRICSTUDIO_EGRESS_ALLOWLIST = (egress.ANY_URL,)
    settings.RUBRICSTUDIO_EGRESS_NETWORKS = ()
    return settings


@pytest.mark.parametrize(
    "name",
    [
        "SECRET_KEY",
        "DATABASE_URL",
        "REDIS_URL",
        "POSTGRES_PASSWORD",
        "RUBRICSTUDIO_WEBHOOK_SECRET",
        "EMAIL_HOST_PASSWORD",
        "PGPASSWORD",
        "CELERY_BROKER_URL",
    ],
)
def test_the_studios_secrets_can_never_be_declared_as_judge_keys(name: str) -> None:
    with pytest.raises(ValueError, match="secret of the studio"):
        egress.parse_judge_keys(f"{name}=https://api.openai.com/v1")


def test_declared_keys_parse_with_one_or_more_endpoints() -> None:
    keys = egress.parse_judge_keys(
        "OPENAI_API_KEY=https://api.openai.com/v1/, TOGETHER_KEY=https://api.together.xyz/v1,"
        "TOGETHER_KEY=https://EU.together.xyz/v1"
    )
    assert keys == {
        "OPENAI_API_KEY": ("https://api.openai.com/v1",),
        "TOGETHER_KEY": ("https://api.together.xyz/v1", "https://eu.together.xyz/v1"),
    }
    for bad in ("lowercase=https://x/v1", "NOURL", "KEY=ftp://x/", "KEY=https://u:p@x/v1"):
        with pytest.raises(ValueError):
            egress.parse_judge_keys(bad)


def test_settings_refuse_to_load_with_a_studio_secret_declared() -> None:
    env = {**os.environ, "RUBRICSTUDIO_JUDGE_KEYS": "DATABASE_URL=https://evil.example/v1"}
    done = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=REPO,
        env={**env, "DJANGO_SETTINGS_MODULE": "rubricstudio.settings"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode != 0
    assert "ImproperlyConfigured" in done.stderr and "DATABASE_URL" in done.stderr


def test_url_prefixes_match_whole_path_segments_and_hosts() -> None:
    prefix = "https://api.openai.com/v1"
    assert egress.url_matches("https://api.openai.com/v1", prefix)
    assert egress.url_matches("https://API.openai.com/v1/", prefix)
    assert egress.url_matches("https://api.openai.com/v1/chat", prefix)
    assert not egress.url_matches("https://api.openai.com/v10", prefix)
    assert not egress.url_matches("https://api.openai.com.evil.example/v1", prefix)
    assert not egress.url_matches("https://api.openai.com:8443/v1", prefix)
    assert egress.url_syntax_problem("https://user:pw@api.openai.com/v1") is not None
    assert egress.url_syntax_problem("file:///etc/passwd") is not None


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("169.254.169.254", "link-local"),
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("::ffff:127.0.0.1", "loopback"),
        ("10.1.2.3", "private"),
        ("192.168.0.10", "private"),
        ("fd00::1", "private"),
        ("0.0.0.0", "unspecified"),
        ("100.64.0.1", "non-public"),
    ],
)
def test_non_public_addresses_are_refused_unless_their_network_is_allowed(
    address: str, kind: str
) -> None:
    problem = egress.address_problem(address, ())
    assert problem is not None and kind in problem
    everything = egress.parse_networks(["0.0.0.0/0", "::/0"])
    assert egress.address_problem(address, everything) is None
    assert egress.address_problem(PUBLIC, ()) is None


def test_development_networks_keep_loopback_and_never_the_metadata_address() -> None:
    networks = egress.parse_networks(egress.DEVELOPMENT_NETWORKS)
    assert egress.address_problem("127.0.0.1", networks) is None
    assert egress.address_problem("169.254.169.254", networks) is not None


@pytest.fixture
def capture() -> Iterator[Any]:
    with capture_server() as server:
        yield server


def test_a_hostname_resolving_to_loopback_is_refused_on_a_real_connection(
    production: Any, capture: Any
) -> None:
    port = capture.url.rsplit(":", 1)[1]
    # "localhost" resolves to the loopback address through the system resolver.
    with (
        pytest.raises(egress.EgressRefused, match="loopback"),
        egress.sync_http_client(timeout=5) as client,
    ):
        client.get(f"http://localhost:{port}/hello")
    assert capture.connections == 0 and capture.requests == []
    production.RUBRICSTUDIO_EGRESS_NETWORKS = egress.parse_networks(["127.0.0.0/8", "::1/128"])
    with egress.sync_http_client(timeout=5) as client:
        assert client.get(f"http://localhost:{port}/hello").status_code == 204
    assert [r.path for r in capture.requests] == ["/hello"]


def test_a_name_resolving_to_a_private_address_is_refused(production: Any) -> None:
    with egress.resolver_override(lambda host, port: ["10.20.30.40"]):
        assert "private" in (egress.url_addresses_problem("http://judge.internal/v1") or "")
        with (
            pytest.raises(egress.EgressRefused, match="private"),
            egress.sync_http_client(timeout=5) as client,
        ):
            client.get("http://judge.internal/v1/models")


def test_dns_rebinding_is_caught_on_the_address_actually_connected_to(
    production: Any, capture: Any
) -> None:
    """The name is public when the worker checks it and loopback when the client connects."""
    port = int(capture.url.rsplit(":", 1)[1])
    answers = iter([[PUBLIC], ["127.0.0.1"], ["127.0.0.1"], ["127.0.0.1"]])
    with egress.resolver_override(lambda host, _port: next(answers)):
        assert egress.url_addresses_problem(f"http://rebind.example:{port}/v1") is None
        with (
            pytest.raises(egress.EgressRefused, match="loopback"),
            egress.sync_http_client(timeout=5) as client,
        ):
            client.get(f"http://rebind.example:{port}/v1/models")
    assert capture.connections == 0


@pytest.mark.parametrize("choice", ["aiohttp", "httpx"])
def test_the_judge_clients_check_the_connected_address(
    production: Any, capture: Any, choice: str
) -> None:
    async def call(url: str) -> Any:
        client = openai.AsyncOpenAI(
            base_url=url,
            api_key="judge-key",
            max_retries=0,
            http_client=egress.openai_http_client(choice, timeout=5),
        )
        try:
            return await client.post(
                "/chat/completions",
                body={"model": "m", "messages": [{"role": "user", "content": "hi"}]},
                cast_to=ChatCompletion,
            )
        except Exception as exc:
            return exc
        finally:
            await client.close()

    refused = asyncio.run(call(f"http://localhost:{capture.url.rsplit(':', 1)[1]}/v1"))
    assert egress.refusal_in(refused) is not None, repr(refused)
    # An IP literal never goes through a resolver: the socket itself is checked.
    port = capture.url.rsplit(":", 1)[1]
    literal = asyncio.run(call(f"http://127.0.0.1:{port}/v1"))
    assert egress.refusal_in(literal) is not None, repr(literal)
    assert capture.connections == 0
    production.RUBRICSTUDIO_EGRESS_NETWORKS = egress.parse_networks(["127.0.0.0/8"])
    answer = asyncio.run(call(f"{capture.url}/v1"))
    assert isinstance(answer, ChatCompletion), repr(answer)
    assert capture.requests[0].headers["authorization"] == "Bearer judge-key"


def test_production_settings_refuse_metadata_loopback_and_private_addresses() -> None:
    """Loaded as production loads them: no allowlisted URL, no non-public network."""
    script = (
        "import django; django.setup()\n"
        "from apps.core import egress\n"
        "p = egress.policy()\n"
        "print(p.allowlist, p.networks, sorted(p.judge_keys))\n"
        "for a in ('169.254.169.254', '127.0.0.1', '10.0.0.5', '93.184.216.34'):\n"
        "    print(a, egress.address_problem(a, p.networks) is None)\n"
        "print(egress.judge_endpoint_errors("
        "base_url='http://169.254.169.254/v1', api_key_env=''))\n"
        "print(egress.webhook_url_problem('https://hooks.example.com/x') is None)\n"
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "rubricstudio.settings",
        "RUBRICSTUDIO_PRODUCTION": "1",
        "DEBUG": "0",
        "SECRET_KEY": "production-test-key-" + "x" * 40,
    }
    for name in ("RUBRICSTUDIO_EGRESS_ALLOWLIST", "RUBRICSTUDIO_EGRESS_NETWORKS"):
        env.pop(name, None)
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "() () ['OPENAI_API_KEY']"
    assert lines[1:5] == [
        "169.254.169.254 False",
        "127.0.0.1 False",
        "10.0.0.5 False",
        "93.184.216.34 True",
    ]
    assert "base_url" in lines[5] and "link-local" in lines[5]
    assert lines[6] == "False"


def test_a_name_that_does_not_resolve_is_a_network_failure_not_a_refusal(production: Any) -> None:
    def fail(host: str, port: int) -> list[str]:
        raise OSError("no such name")

    with egress.resolver_override(fail):
        # The worker's pre-check lets the call fail and be retried like an unreachable endpoint.
        assert egress.url_addresses_problem("https://judge.example.com/v1") is None
        with pytest.raises(OSError) as raised:
            egress.allowed_addresses("judge.example.com", 443)
        assert not isinstance(raised.value, egress.EgressRefused)
