"""Resuming a run by hand (page and API, by role), and what a waiting run's pages say."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone

from apps.core import liveness
from apps.core.models import AuditEvent
from apps.drift.models import DriftReport, ReportStatus
from apps.judging import selectors, services
from apps.judging.models import ChunkStatus, JudgingRun, RunChunk, RunStatus
from tests.factories import make_judge, make_reference_set, make_version


def _client(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _silent(seconds: float | None = None) -> Any:
    extra = settings.LIVENESS_STALE_AFTER_S + 25 if seconds is None else seconds
    return timezone.now() - timedelta(seconds=extra)


def _waiting_run(project: Any, judge: Any, *, name: str = "ref") -> JudgingRun:
    """A run whose worker died: chunk 0 claimed and silent, the run's heartbeat silent too."""
    run = services.run_start(
        actor=None,
        rubric_version=make_version(project),
        judge=judge,
        reference_set=make_reference_set(project, n_pairs=30, name=name),
        chunk_size=50,
        dispatch=False,
    )
    RunChunk.objects.filter(run=run, index=0).update(
        status=ChunkStatus.RUNNING, claimed_at=_silent(), attempts=1
    )
    JudgingRun.objects.filter(pk=run.pk).update(status=RunStatus.RUNNING, heartbeat_at=_silent())
    run.refresh_from_db()
    return run


# --- pure parts -------------------------------------------------------------------------------


def test_waiting_reason_names_the_silence_and_who_consumes_the_queue() -> None:
    nobody = liveness.QueueState(queue="api", consumers=(), waiting=0)
    assert (
        liveness.waiting_reason(silent_s=45.7, state=nobody)
        == "no worker has reported for 45 s; no worker is consuming the `api` queue"
    )
    busy = liveness.QueueState(queue="api", consumers=("w1@h", "w2@h"), waiting=3)
    assert liveness.waiting_reason(silent_s=30, state=busy) == (
        "no worker has reported for 30 s; 3 messages wait in the `api` queue for its 2 workers"
    )
    idle = liveness.QueueState(queue="default", consumers=("w1@h",), waiting=0)
    assert liveness.waiting_reason(silent_s=21, state=idle) == (
        "no worker has reported for 21 s; 1 worker consumes the `default` queue; it will be resumed"
    )


def test_a_silent_run_waits_only_while_all_its_messages_may_still_be_queued() -> None:
    def state(consumers: tuple[str, ...], waiting: int | None) -> liveness.QueueState:
        return liveness.QueueState(queue="default", consumers=consumers, waiting=waiting)

    worker = ("w1@h",)
    # Nobody consumes the queue: wait, whatever its depth.
    assert liveness.waits_for_queue(state((), 0), pending=3)
    # As many messages wait as the run has pending chunks: they may all be its own.
    assert liveness.waits_for_queue(state(worker, 3), pending=3)
    assert liveness.waits_for_queue(state(worker, 1), pending=0)
    # Fewer wait (one beat's sweep, say): some of the run's messages are gone, resume.
    assert not liveness.waits_for_queue(state(worker, 1), pending=3)
    assert not liveness.waits_for_queue(state(worker, 0), pending=3)
    assert not liveness.waits_for_queue(state(worker, 0), pending=0)
    # A broker that does not say its depth counts as an empty queue.
    assert not liveness.waits_for_queue(state(worker, None), pending=2)


def test_silent_for_is_none_within_the_window() -> None:
    now = timezone.now()
    window = settings.LIVENESS_STALE_AFTER_S
    assert liveness.silent_for(now - timedelta(seconds=window - 1), now) is None
    assert liveness.silent_for(None, now) is None
    assert liveness.silent_for(now - timedelta(seconds=window + 4), now) == pytest.approx(
        window + 4
    )


@pytest.mark.django_db(transaction=True)
def test_a_beater_beats_from_its_own_thread_until_the_block_ends(project: Any) -> None:
    judge = make_judge(project)
    run = _waiting_run(project, judge)
    old = run.heartbeat_at
    assert old is not None
    # The beat a chunk at work runs (claim, then run heartbeat).
    beater = liveness.Beater(lambda: services.chunks._chunk_beat(run.pk, 0), every=0.05)
    with beater:
        assert beater.running
        deadline = 400
        while beater.beats < 3 and deadline:
            deadline -= 1
            time.sleep(0.05)
    beats = beater.beats
    assert beats >= 3
    run.refresh_from_db()
    chunk = RunChunk.objects.get(run=run, index=0)
    assert run.heartbeat_at is not None and run.heartbeat_at > old
    assert chunk.claimed_at is not None and chunk.claimed_at > old
    # The thread has stopped with the block: no beat after it.
    assert beats >= 3 and not beater.running
    assert beater.beats == beats


# --- resume by hand ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_resume_endpoint_by_role_audited_then_a_conflict_once_ended(
    api_client_for: Any,
    members: dict[str, Any],
    project: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    run = _waiting_run(project, make_judge(project))
    url = f"/api/runs/{run.pk}/resume/"
    for role in ("viewer", "annotator"):
        refused = api_client_for(members[role]).post(url)
        assert refused.status_code == 403, role
        assert "run.start" in refused.json()["detail"]
    assert not AuditEvent.objects.filter(action="run.resume").exists()

    detail = api_client_for(members["viewer"]).get(f"/api/runs/{run.pk}/").json()
    assert detail["waiting"].startswith("no worker has reported for ")
    # Tasks run eagerly in these tests: this process consumes every queue.
    assert "consumes the `default` queue" in detail["waiting"]

    with django_capture_on_commit_callbacks(execute=True) as dispatched:
        response = api_client_for(members["author"]).post(url)
    # The answer comes before the chunks run (they are sent once the resume has committed).
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["status"], body["done"], body["total"], body["waiting"]) == (
        "running",
        0,
        60,
        None,
    )
    assert len(dispatched) == 1
    run.refresh_from_db()
    assert (run.status, run.done) == (RunStatus.SUCCEEDED, 60)
    event = AuditEvent.objects.get(action="run.resume")
    assert event.actor == members["author"] and event.object_id == str(run.pk)
    assert event.after == {"chunks": 2, "released": [0], "by": "user"}

    again = api_client_for(members["admin"]).post(url)
    assert again.status_code == 409 and "already ended" in again.json()["detail"]


@pytest.mark.django_db
def test_resume_button_shows_the_reason_and_only_to_those_who_may_start_runs(
    members: dict[str, Any], project: Any, django_capture_on_commit_callbacks: Any
) -> None:
    run = _waiting_run(project, make_judge(project))
    page = f"/p/{project.slug}/runs/{run.pk}/"
    viewer = _client(members["viewer"]).get(page).content.decode()
    assert "data-run-waiting" in viewer and "no worker has reported for" in viewer
    assert "data-resume-run" not in viewer
    assert _client(members["viewer"]).post(f"{page}resume/").status_code == 403

    author = _client(members["author"])
    html = author.get(page).content.decode()
    assert "data-resume-run" in html and f'action="{page}resume/"' in html
    # The polled progress partial carries the same notice and button.
    partial = author.get(f"{page}progress/", HTTP_HX_REQUEST="true").content.decode()
    assert "data-run-waiting" in partial and "data-resume-run" in partial

    with django_capture_on_commit_callbacks(execute=True):
        response = author.post(f"{page}resume/", follow=True)
    assert response.status_code == 200
    assert f"Run {run.pk} resumed: 2 chunks sent again." in response.content.decode()
    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED and run.done == run.total
    assert "data-run-waiting" not in author.get(page).content.decode()
    assert AuditEvent.objects.filter(action="run.resume", actor=members["author"]).count() == 1


@pytest.mark.django_db
def test_a_run_at_work_shows_no_waiting_notice(members: dict[str, Any], project: Any) -> None:
    run = _waiting_run(project, make_judge(project))
    JudgingRun.objects.filter(pk=run.pk).update(heartbeat_at=timezone.now())
    run.refresh_from_db()
    assert selectors.run_waiting(run) is None
    html = _client(members["author"]).get(f"/p/{project.slug}/runs/{run.pk}/").content.decode()
    assert "data-run-waiting" not in html and "data-resume-run" not in html


# --- nobody consumes the run's queue (real worker, real inspection) ----------------------------


@pytest.mark.worker
def test_waiting_message_when_no_worker_consumes_the_runs_queue(
    celery_worker_process: Any, members: dict[str, Any], project: Any, settings: Any
) -> None:
    # A worker on `default` only: the inspection answers, and names nobody for `api`.
    celery_worker_process(queues="default", concurrency=1)
    liveness.forget_queue_states()
    hosted = make_judge(
        project,
        name="Hosted",
        backend="openai",
        model="judge-model",
        base_url="http://127.0.0.1:9/v1",
    )
    api_run = _waiting_run(project, hosted, name="api")
    offline_run = _waiting_run(project, make_judge(project), name="offline")
    # The hosted run's chunks are queued on `api`, where nobody listens.
    services.chunks_dispatch(run_id=api_run.pk, backend=hosted.backend)

    html = _client(members["viewer"]).get(f"/p/{project.slug}/runs/{api_run.pk}/").content
    text = html.decode()
    assert "no worker has reported for " in text
    assert "no worker is consuming the `api` queue" in text
    body = _client(members["viewer"]).get(f"/api/runs/{api_run.pk}/").json()
    assert "no worker is consuming the `api` queue" in body["waiting"]
    # The other run's queue has the worker: the notice says so instead.
    offline = selectors.run_waiting(offline_run)
    assert offline is not None and "1 worker consumes the `default` queue" in offline

    # The sweep gives the dead worker's chunk back (its message waits in the queue for a
    # worker), then leaves the run waiting: sending it again would gain nothing.
    settings.LIVENESS_STALE_AFTER_S = 1
    first = services.runs_sweep_orphaned()
    assert api_run.pk in first["released"]
    second = services.runs_sweep_orphaned()
    assert api_run.pk in second["waiting"] and api_run.pk not in second["resumed"]
    api_run.refresh_from_db()
    assert api_run.status == RunStatus.RUNNING and api_run.resumes == 0
    assert not RunChunk.objects.filter(run=api_run, status=ChunkStatus.RUNNING).exists()


@pytest.mark.django_db
def test_pending_drift_report_names_its_waiting_run(members: dict[str, Any], project: Any) -> None:
    judge = make_judge(project)
    run = _waiting_run(project, judge)
    baseline = _waiting_run(project, judge, name="baseline")
    JudgingRun.objects.filter(pk=baseline.pk).update(heartbeat_at=timezone.now())
    report = DriftReport.objects.create(
        project=project,
        rubric=run.rubric_version.rubric,
        baseline_version=baseline.rubric_version,
        candidate_version=run.rubric_version,
        baseline_run=baseline,
        candidate_run=run,
        reference_set=run.reference_set,
        judge=judge,
        status=ReportStatus.PENDING,
    )
    html = (
        _client(members["viewer"])
        .get(f"/p/{project.slug}/alerts/reports/{report.pk}/")
        .content.decode()
    )
    assert f'data-run-waiting="{run.pk}"' in html
    assert f'data-run-waiting="{baseline.pk}"' not in html
    assert "no worker has reported for" in html
