"""Judge configs and webhooks as an attack surface.

Every attack an author (or a project admin) can write is refused through the API and the form,
with the field named. A config changed in the database after its creation is refused by the
worker before any call: the run fails with the reason, and a loopback capture server, which
records every connection, proves nothing was sent, least of all a studio secret. Production
settings refuse the metadata address, loopback, and a name resolving to a private address.
"""

from __future__ import annotations

import contextlib
import random
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client

from apps.accounts.models import Project
from apps.core import egress
from apps.core.models import AuditEvent
from apps.drift import notifications
from apps.drift.models import DeliveryStatus, WebhookDelivery
from apps.judging import services
from apps.judging.judge_policy import JudgeRefused
from apps.judging.models import JudgeConfig, JudgingRun, RunStatus
from apps.judging.types import PairText
from apps.redteam.services.editing import editor_complete
from tests.conftest import database_url_for_subprocess, wait_until
from tests.drift.factories import MASKED, make_scenario
from tests.factories import make_judge, make_reference_set, make_version
from tests.hostile.capture import CaptureServer, capture_server

JUDGE_KEY = "JUDGE_KEY"
JUDGE_KEY_VALUE = "judge-key-value-0a1b2c"
STUDIO_SECRETS = {
    "SECRET_KEY": "studio-secret-key-value-3d4e5f",
    "RUBRICSTUDIO_WEBHOOK_SECRET": "studio-webhook-secret-6a7b8c",
    "POSTGRES_PASSWORD": "studio-postgres-password-9d0e",
}


@pytest.fixture
def capture() -> Iterator[CaptureServer]:
    with capture_server() as server:
        yield server


@pytest.fixture
def secrets_in_env(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The studio's secrets and one declared judge key, in this process's environment."""
    for name, value in {**STUDIO_SECRETS, JUDGE_KEY: JUDGE_KEY_VALUE}.items():
        monkeypatch.setenv(name, value)
    return STUDIO_SECRETS


@pytest.fixture
def declared(settings: Any, capture: CaptureServer) -> Any:
    """The operator declared JUDGE_KEY for the capture server's /v1 and OPENAI_API_KEY."""
    settings.RUBRICSTUDIO_JUDGE_KEYS = {
        JUDGE_KEY: (f"{capture.url}/v1",),
        "OPENAI_API_KEY": (egress.DEFAULT_OPENAI_URL,),
    }
    return settings


@pytest.fixture
def production(declared: Any) -> Any:
    """Production egress: an allowlist of one public endpoint, no non-public network."""
    declared.RUBRICSTUDIO_EGRESS_ALLOWLIST = ("https://judge.example.com/v1",)
    declared.RUBRICSTUDIO_EGRESS_NETWORKS = ()
    return declared


def _api(api_client_for: Any, user: Any, body: dict[str, Any]) -> Any:
    return api_client_for(user).post("/api/judges/", body, format="json")


def _form(user: Any, project: Project, body: dict[str, Any]) -> Any:
    client = Client()
    client.force_login(user)
    form = {"concurrency": 8, "params": "{}", **body}
    if isinstance(form["params"], dict):
        import json

        form["params"] = json.dumps(form["params"])
    return client.post(f"/p/{project.slug}/runs/judges/new/", form)


HOSTED = {"backend": "openai", "model": "judge-model"}
LOCAL = {"backend": "local", "model": "tiny"}

# (attack, body, the field that must be named, needs production settings)
ATTACKS = [
    ("the secret key as the key", {**HOSTED, "api_key_env": "SECRET_KEY"}, "api_key_env", False),
    ("the database URL", {**HOSTED, "api_key_env": "DATABASE_URL"}, "api_key_env", False),
    (
        "the webhook secret",
        {**HOSTED, "api_key_env": "RUBRICSTUDIO_WEBHOOK_SECRET"},
        "api_key_env",
        False,
    ),
    ("the database password", {**HOSTED, "api_key_env": "POSTGRES_PASSWORD"}, "api_key_env", False),
    ("an undeclared key", {**HOSTED, "api_key_env": "AWS_SECRET_ACCESS_KEY"}, "api_key_env", False),
    (
        "a declared key sent elsewhere",
        {**HOSTED, "api_key_env": "OPENAI_API_KEY", "base_url": "CAPTURE"},
        "base_url",
        False,
    ),
    (
        "the metadata address",
        {**HOSTED, "base_url": "http://169.254.169.254/latest/meta-data"},
        "base_url",
        False,
    ),
    (
        "loopback in production",
        {**HOSTED, "base_url": "http://127.0.0.1:6379/v1"},
        "base_url",
        True,
    ),
    (
        "a host off the allowlist in production",
        {**HOSTED, "base_url": "https://judge.example.com.evil.example/v1"},
        "base_url",
        True,
    ),
    (
        "credentials in the URL",
        {**HOSTED, "base_url": "https://u:p@judge.example.com/v1"},
        "base_url",
        False,
    ),
    ("trust_remote_code", {**LOCAL, "params": {"trust_remote_code": True}}, "params", False),
    ("a device", {**LOCAL, "params": {"device": "cuda:7"}}, "params", False),
    ("a model path on the worker's disk", {**LOCAL, "model": "/etc"}, "model", False),
    ("a path climbing out", {**LOCAL, "model": "../../../root/.cache"}, "model", False),
]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("attack", "body", "field", "in_production"), ATTACKS, ids=[a[0] for a in ATTACKS]
)
@pytest.mark.parametrize("through", ["api", "form"])
def test_every_attack_is_refused_at_creation_with_the_field_named(
    request: pytest.FixtureRequest,
    api_client_for: Any,
    members: dict[str, Any],
    project: Project,
    capture: CaptureServer,
    attack: str,
    body: dict[str, Any],
    field: str,
    in_production: bool,
    through: str,
) -> None:
    request.getfixturevalue("production" if in_production else "declared")
    body = {k: (f"{capture.url}/v1" if v == "CAPTURE" else v) for k, v in body.items()}
    body = {"name": "Attack", **body}
    if through == "api":
        response = _api(api_client_for, members["author"], {"project": project.pk, **body})
        assert response.status_code == 400, response.content
        assert field in response.json(), response.json()
    else:
        response = _form(members["author"], project, body)
        assert response.status_code == 400
        assert response.context["form"].errors.get(field), response.context["form"].errors
    assert not JudgeConfig.objects.filter(name="Attack").exists()
    assert capture.connections == 0


@pytest.mark.django_db
def test_a_declared_key_with_its_endpoint_is_accepted_and_audited_by_name(
    api_client_for: Any,
    members: dict[str, Any],
    project: Project,
    declared: Any,
    capture: Any,
    secrets_in_env: dict[str, str],
) -> None:
    body = {
        "project": project.pk,
        "name": "Hosted",
        **HOSTED,
        "api_key_env": JUDGE_KEY,
        "base_url": f"{capture.url}/v1",
    }
    response = _api(api_client_for, members["author"], body)
    assert response.status_code == 201, response.content
    event = AuditEvent.objects.get(action="judge.create", object_id=str(response.json()["id"]))
    assert event.after["api_key_env"] == JUDGE_KEY and event.after["base_url"] == body["base_url"]
    assert JUDGE_KEY_VALUE not in str(event.after)


def _altered_run(project: Project, capture: CaptureServer, **changes: Any) -> JudgingRun:
    """A run of a config valid at creation, whose row is then changed in the database."""
    judge = services.judge_config_create(
        actor=None,
        project=project,
        name="Hosted",
        backend="openai",
        model="judge-model",
        base_url=f"{capture.url}/v1",
        api_key_env=JUDGE_KEY,
        params={"max_attempts": 1},
    )
    run = services.run_start(
        actor=None,
        rubric_version=make_version(project),
        judge=judge,
        reference_set=make_reference_set(project, n_pairs=4),
        dispatch=False,
    )
    JudgeConfig.objects.filter(pk=judge.pk).update(**changes)
    return run


ALTERATIONS = [
    ("the secret key", {"api_key_env": "SECRET_KEY"}, "api_key_env", False),
    ("the webhook secret", {"api_key_env": "RUBRICSTUDIO_WEBHOOK_SECRET"}, "api_key_env", False),
    ("an undeclared key", {"api_key_env": "POSTGRES_PASSWORD"}, "api_key_env", False),
    (
        "the key sent to the metadata address",
        {"base_url": "http://169.254.169.254/v1"},
        "base_url",
        False,
    ),
    ("loopback in production", {"api_key_env": "", "base_url": "CAPTURE"}, "base_url", True),
    (
        "trust_remote_code",
        {
            "backend": "local",
            "model": "tiny",
            "base_url": "",
            "api_key_env": "",
            "params": {"trust_remote_code": True},
        },
        "params",
        False,
    ),
]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("alteration", "changes", "field", "in_production"),
    ALTERATIONS,
    ids=[a[0] for a in ALTERATIONS],
)
def test_a_config_altered_in_the_database_is_refused_by_the_worker_and_nothing_is_sent(
    request: pytest.FixtureRequest,
    project: Project,
    capture: CaptureServer,
    secrets_in_env: dict[str, str],
    alteration: str,
    changes: dict[str, Any],
    field: str,
    in_production: bool,
) -> None:
    settings = request.getfixturevalue("declared")
    changes = {k: (f"{capture.url}/v1" if v == "CAPTURE" else v) for k, v in changes.items()}
    run = _altered_run(project, capture, **changes)
    if in_production:
        settings.RUBRICSTUDIO_EGRESS_ALLOWLIST = (egress.ANY_URL,)
        settings.RUBRICSTUDIO_EGRESS_NETWORKS = ()
    outcome = services.chunk_judge(run_id=run.pk, index=0)
    assert outcome.state == "refused"
    run.refresh_from_db()
    assert run.status == RunStatus.FAILED and run.done == 0
    assert field in run.error and "refused" in run.error, run.error
    assert capture.connections == 0 and capture.requests == []
    # The next chunk of the failed run does nothing either.
    assert services.chunk_judge(run_id=run.pk, index=0).state in ("skipped", "stopped")
    assert capture.connections == 0


@pytest.mark.django_db
def test_a_name_resolving_to_a_private_address_fails_the_run_in_production(
    project: Project, capture: CaptureServer, production: Any
) -> None:
    port = int(capture.url.rsplit(":", 1)[1])
    url = f"http://judge.internal:{port}/v1"
    production.RUBRICSTUDIO_EGRESS_ALLOWLIST = (f"http://judge.internal:{port}",)
    judge = services.judge_config_create(
        actor=None, project=project, name="Internal", backend="openai", model="m", base_url=url
    )
    run = services.run_start(
        actor=None,
        rubric_version=make_version(project),
        judge=judge,
        reference_set=make_reference_set(project, n_pairs=2),
        dispatch=False,
    )
    # The name resolves to a private address (to the loopback capture server, it would connect).
    with egress.resolver_override(lambda host, _port: ["10.9.8.7"]):
        assert services.chunk_judge(run_id=run.pk, index=0).state == "refused"
    run.refresh_from_db()
    assert run.status == RunStatus.FAILED and "10.9.8.7 is a private address" in run.error
    assert capture.connections == 0


@pytest.mark.django_db
def test_a_valid_config_sends_only_its_declared_key(
    project: Project,
    capture: CaptureServer,
    declared: Any,
    secrets_in_env: dict[str, str],
) -> None:
    """The positive control: the capture server does receive requests, with the judge key."""
    run = _altered_run(project, capture)  # no change: the config stays valid
    assert services.chunk_judge(run_id=run.pk, index=0).state == "written"
    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED, run.error
    assert capture.requests and all(
        r.headers["authorization"] == f"Bearer {JUDGE_KEY_VALUE}" for r in capture.requests
    )
    everything = capture.everything()
    assert not [name for name, value in secrets_in_env.items() if value in everything]


@pytest.mark.worker
@pytest.mark.timeout(300)
def test_a_real_worker_refuses_an_altered_config_and_never_sends_a_studio_secret(
    celery_worker_process: Any,
    capture: CaptureServer,
    settings: Any,
) -> None:
    project = Project.objects.create(name="Worker egress", slug="worker-egress")
    keys = f"{JUDGE_KEY}={capture.url}/v1"
    settings.RUBRICSTUDIO_JUDGE_KEYS = egress.parse_judge_keys(keys)
    secrets = {**STUDIO_SECRETS, "DATABASE_URL": database_url_for_subprocess()}
    celery_worker_process(
        queues="api", RUBRICSTUDIO_JUDGE_KEYS=keys, **{JUDGE_KEY: JUDGE_KEY_VALUE}, **STUDIO_SECRETS
    )
    good = _altered_run(project, capture)
    services.chunks_dispatch(run_id=good.pk, backend="openai")
    wait_until(lambda: JudgingRun.objects.get(pk=good.pk).status == RunStatus.SUCCEEDED, 120)
    sent = len(capture.requests)
    assert sent == 8  # 4 pairs in both orders

    bad = _altered_run(
        Project.objects.create(name="Worker egress 2", slug="worker-egress-2"),
        capture,
        api_key_env="SECRET_KEY",
    )
    services.chunks_dispatch(run_id=bad.pk, backend="openai")
    wait_until(lambda: JudgingRun.objects.get(pk=bad.pk).status == RunStatus.FAILED, 120)
    assert "api_key_env" in JudgingRun.objects.get(pk=bad.pk).error
    assert len(capture.requests) == sent
    everything = capture.everything()
    assert f"Bearer {JUDGE_KEY_VALUE}" in everything
    assert not [name for name, value in secrets.items() if value and value in everything]


# --- webhooks ---------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("url", "in_production"),
    [
        ("http://169.254.169.254/latest/meta-data", False),
        ("http://127.0.0.1:6379/", True),
        ("https://hooks.evil.example/drift", True),
        ("file:///etc/passwd", False),
    ],
)
def test_webhook_urls_are_refused_through_the_api_and_the_admin_form(
    request: pytest.FixtureRequest,
    api_client_for: Any,
    members: dict[str, Any],
    project: Project,
    make_user: Any,
    url: str,
    in_production: bool,
) -> None:
    request.getfixturevalue("production" if in_production else "declared")
    client = api_client_for(members["admin"])
    created = client.post("/api/projects/", {"name": "Hooked", "webhook_url": url}, format="json")
    assert created.status_code == 400 and "webhook_url" in created.json(), created.content
    changed = client.patch(f"/api/projects/{project.pk}/", {"webhook_url": url}, format="json")
    assert changed.status_code == 400 and "webhook_url" in changed.json(), changed.content
    admin = Client()
    admin.force_login(make_user("root-egress", superuser=True))
    page = admin.post(
        f"/admin/accounts/project/{project.pk}/change/",
        {
            "name": project.name,
            "slug": project.slug,
            "description": "",
            "webhook_url": url,
            "memberships-TOTAL_FORMS": 0,
            "memberships-INITIAL_FORMS": 0,
        },
    )
    assert page.status_code == 200 and page.context["adminform"].form.errors.get("webhook_url")
    project.refresh_from_db()
    assert project.webhook_url == ""


@pytest.mark.django_db
def test_webhook_changes_are_audited_through_the_api_and_the_admin(
    api_client_for: Any,
    members: dict[str, Any],
    project: Project,
    make_user: Any,
) -> None:
    client = api_client_for(members["admin"])
    url = "https://hooks.example.com/drift"
    assert (
        client.patch(
            f"/api/projects/{project.pk}/", {"webhook_url": url}, format="json"
        ).status_code
        == 200
    )
    event = AuditEvent.objects.get(action="project.webhook_change")
    assert event.before == {"webhook_url": ""} and event.after == {"webhook_url": url}
    assert event.actor == members["admin"]
    admin = Client()
    root = make_user("root-audit", superuser=True)
    admin.force_login(root)
    page = admin.post(
        f"/admin/accounts/project/{project.pk}/change/",
        {
            "name": project.name,
            "slug": project.slug,
            "description": "",
            "webhook_url": "https://hooks.example.com/other",
            "memberships-TOTAL_FORMS": 0,
            "memberships-INITIAL_FORMS": 0,
        },
    )
    assert page.status_code == 302
    latest = AuditEvent.objects.filter(action="project.webhook_change").first()
    assert latest is not None and latest.actor == root
    assert latest.after == {"webhook_url": "https://hooks.example.com/other"}


@pytest.mark.django_db
def test_a_webhook_url_altered_in_the_database_is_refused_at_delivery(
    project: Project,
    capture: CaptureServer,
    production: Any,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Any,
) -> None:
    monkeypatch.setenv(notifications.SECRET_ENV, STUDIO_SECRETS["RUBRICSTUDIO_WEBHOOK_SECRET"])
    # Any URL passes the allowlist: the addresses decide (localhost only when connecting).
    production.RUBRICSTUDIO_EGRESS_ALLOWLIST = (egress.ANY_URL,)
    scenario = make_scenario(project, MASKED)
    from apps.drift import services as drift_services

    with django_capture_on_commit_callbacks(execute=True):
        report = drift_services.drift_report_create(
            actor=None, baseline_run=scenario.baseline_run, candidate_run=scenario.candidate_run
        )
    report.refresh_from_db()
    for url in (
        f"{capture.url}/hook",
        f"http://localhost:{capture.url.rsplit(':', 1)[1]}/hook",
        "http://169.254.169.254/hook",
    ):
        delivery = WebhookDelivery.objects.create(
            project=project, alert=report.alert, event="alert.opened", url=url, payload={"a": 1}
        )
        outcome = notifications.webhook_attempt(delivery_id=delivery.pk)
        delivery.refresh_from_db()
        assert not outcome.delivered and not outcome.retry
        assert (
            delivery.status == DeliveryStatus.FAILED and "Nothing was sent" in delivery.last_error
        )
    assert capture.connections == 0


# --- the judge page and the admin ---------------------------------------------------------------


@pytest.mark.django_db
def test_the_judge_page_shows_the_declared_key_and_endpoint_never_a_value(
    members: dict[str, Any],
    project: Project,
    capture: CaptureServer,
    declared: Any,
    secrets_in_env: dict[str, str],
) -> None:
    services.judge_config_create(
        actor=None,
        project=project,
        name="Hosted",
        backend="openai",
        model="m",
        base_url=f"{capture.url}/v1/",
        api_key_env=JUDGE_KEY,
    )
    altered = make_judge(
        project, name="Altered", backend="openai", model="m", base_url="http://169.254.169.254/v1"
    )
    client = Client()
    client.force_login(members["viewer"])
    html = client.get(f"/p/{project.slug}/runs/judges/").content.decode()
    assert JUDGE_KEY in html and f"{capture.url}/v1<" in html
    assert JUDGE_KEY_VALUE not in html
    assert not [v for v in secrets_in_env.values() if v in html]
    assert "refused" in html and altered.name in html


@pytest.mark.django_db
def test_admin_changes_of_a_judge_config_are_checked_and_audited(
    project: Project,
    make_user: Any,
    capture: CaptureServer,
    declared: Any,
) -> None:
    judge = make_judge(project, name="Offline")
    root = make_user("root-judge", superuser=True)
    admin = Client()
    admin.force_login(root)
    form = {
        "project": project.pk,
        "name": "Hosted",
        "backend": "openai",
        "model": "m",
        "base_url": f"{capture.url}/v1",
        "api_key_env": "SECRET_KEY",
        "params": "{}",
        "concurrency": 8,
    }
    refused = admin.post(f"/admin/judging/judgeconfig/{judge.pk}/change/", form)
    assert refused.status_code == 200
    assert refused.context["adminform"].form.errors.get("api_key_env")
    judge.refresh_from_db()
    assert judge.backend == "offline" and judge.api_key_env == ""
    accepted = admin.post(
        f"/admin/judging/judgeconfig/{judge.pk}/change/", {**form, "api_key_env": JUDGE_KEY}
    )
    assert accepted.status_code == 302
    event = AuditEvent.objects.get(action="judge.change", object_id=str(judge.pk))
    assert event.actor == root
    assert event.before["backend"] == "offline" and event.after["api_key_env"] == JUDGE_KEY


def _altered_config(project: Project, capture: CaptureServer, name: str, **changes: Any) -> Any:
    """A config valid at creation for the capture server, then changed in the database."""
    config = services.judge_config_create(
        actor=None,
        project=project,
        name=name,
        backend="openai",
        model="judge-model",
        base_url=f"{capture.url}/v1",
        api_key_env=JUDGE_KEY,
        params={"max_attempts": 1},
    )
    JudgeConfig.objects.filter(pk=config.pk).update(**changes)
    return JudgeConfig.objects.get(pk=config.pk)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("alteration", "changes", "field", "in_production"),
    ALTERATIONS,
    ids=[a[0] for a in ALTERATIONS],
)
def test_an_altered_config_is_refused_outside_a_run_too(
    request: pytest.FixtureRequest,
    project: Project,
    capture: CaptureServer,
    secrets_in_env: dict[str, str],
    alteration: str,
    changes: dict[str, Any],
    field: str,
    in_production: bool,
) -> None:
    """Judging outside a run (red-team search, clause attribution) and the red team's LLM
    editor build their clients through the same policy as a run's chunk."""
    settings = request.getfixturevalue("declared")
    changes = {k: (f"{capture.url}/v1" if v == "CAPTURE" else v) for k, v in changes.items()}
    judge = _altered_config(project, capture, "Hosted", **changes)
    if in_production:
        settings.RUBRICSTUDIO_EGRESS_ALLOWLIST = (egress.ANY_URL,)
        settings.RUBRICSTUDIO_EGRESS_NETWORKS = ()
    spec = make_version(project).to_spec()
    pair = PairText(prompt="Say hi", response_a="Hi!", response_b="No.", domain="chat")
    with pytest.raises(JudgeRefused) as refused:
        services.judge_texts_cached(judge=judge, spec=spec, items=[("k", pair, "AB")])
    assert field in str(refused.value) and "refused" in str(refused.value)
    with pytest.raises(JudgeRefused) as refused:
        editor_complete(judge, spec, [], random.Random(0))
    assert "refused" in str(refused.value) or "not an OpenAI-compatible" in str(refused.value)
    assert capture.connections == 0 and capture.requests == []


@pytest.mark.django_db
def test_the_red_team_editor_sends_only_its_declared_key_through_the_checked_client(
    project: Project,
    capture: CaptureServer,
    declared: Any,
    secrets_in_env: dict[str, str],
) -> None:
    """The positive control for the editor: it reaches its endpoint, with the judge key."""
    editor = _altered_config(project, capture, "Editor")  # no change: the config stays valid
    spec = make_version(project).to_spec()
    with contextlib.suppress(Exception):  # the capture server's answer is not a completion
        editor_complete(editor, spec, [], random.Random(0))
    assert capture.requests and all(
        r.headers["authorization"] == f"Bearer {JUDGE_KEY_VALUE}" for r in capture.requests
    )
    everything = capture.everything()
    assert not any(secret in everything for secret in secrets_in_env.values())
