"""Writes of a judge check: start it (dispatched on commit), run it, apply its recommendations."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from functools import partial
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from apps.core.services import actor_or_none, audit_event_record
from apps.judging.backends.base import backend_class
from apps.judging.check.assess import assess, finding
from apps.judging.check.probes import probe_endpoint
from apps.judging.check.sanity import sanity_metrics, sanity_requests
from apps.judging.models import Backend, CheckStatus, JudgeCheck, JudgeConfig
from apps.judging.options import judge_options
from apps.judging.services.configs import backend_config_for, judge_config_errors
from apps.judging.types import Mode
from rubricstudio.celery import app as celery_app

log = logging.getLogger(__name__)

# The check task, by its registered name (``apps.judging.tasks``): the tasks call this module,
# so it sends the task by name and never imports them.
CHECK_TASK = "judging.judge_check"


def _config_snapshot(judge: JudgeConfig, uses_system: bool) -> dict[str, Any]:
    return {
        "backend": judge.backend,
        "model": judge.model,
        "base_url": judge.base_url,
        "params": dict(judge.params),
        "concurrency": judge.concurrency,
        "uses_system": uses_system,
        "min_parse_rate": float(settings.JUDGE_CHECK_MIN_PARSE_RATE),
    }


def judge_check_start(*, actor: Any, judge: JudgeConfig, dispatch: bool = True) -> JudgeCheck:
    """Record a check as running and send it to a worker once the transaction commits.

    ``dispatch=False`` leaves it for the caller (``judge_check_execute``, the command line).
    """
    with transaction.atomic():
        check = JudgeCheck.objects.create(
            project=judge.project,
            judge=judge,
            created_by=actor_or_none(actor),
        )
        audit_event_record(actor=actor, action="judge.check", obj=check, after={"judge": judge.pk})
        if dispatch:
            transaction.on_commit(partial(celery_app.tasks[CHECK_TASK].delay, check.pk))
    return check


def judge_check_execute(*, check: JudgeCheck) -> JudgeCheck:
    """Run the check's canaries and sanity set, then store figures, findings, recommendations.

    Never raises for a misbehaving judge: what went wrong is a finding. An unexpected error
    ends the check ``failed`` with the error.
    """
    judge = JudgeConfig.objects.get(pk=check.judge_id)
    options = judge_options(judge.params)
    mode: Mode = "reasoned" if judge.params.get("mode") == "reasoned" else "verdict"
    items = sanity_requests(mode=mode, layout=options.layout, one_token=options.one_token)
    uses_system = any(m["role"] == "system" for m in items[0][0].messages) or (
        options.layout == "merged"
    )
    snapshot = _config_snapshot(judge, uses_system)
    metrics: dict[str, Any] = {}
    error = ""
    try:
        config = backend_config_for(judge)
        if judge.backend == Backend.OPENAI:
            metrics.update(probe_endpoint(config))
        if judge.backend != Backend.OPENAI or metrics.get("reachable"):
            # A fresh backend: what a cached one learned about the server must not hide a fault.
            backend = backend_class(judge.backend)(config)
            try:
                results = backend.judge_batch([request for request, _, _ in items])
            finally:
                backend.close()
            metrics["sanity"] = sanity_metrics(items, results)
        status, findings, recs = assess(metrics, snapshot)
    except Exception as exc:  # a check reports; it never takes a worker down
        log.exception("check %s of judge %s failed", check.pk, judge.pk)
        error = f"{type(exc).__name__}: {exc}"[:2000]
        status, findings, recs = (
            CheckStatus.FAILED,
            [finding("error", "fail", f"The check could not run: {error}")],
            [],
        )
    JudgeCheck.objects.filter(pk=check.pk).update(
        status=status,
        config=snapshot,
        metrics=metrics,
        findings=findings,
        recommendations=recs,
        error=error,
        finished_at=timezone.now(),
    )
    check.refresh_from_db()
    return check


def judge_check_apply(
    *, actor: Any, check: JudgeCheck, codes: Sequence[str] | None = None
) -> JudgeConfig:
    """Apply a finished check's recommendations (all, or those named in ``codes``) to its judge.

    Parameter changes are merged into the judge's params and validated like any edit; the
    change is audited with the values before and after. Raises ``ValidationError`` naming
    ``codes`` for an unknown recommendation, ``check`` for a check with nothing to apply.
    """
    recs = {r["code"]: r for r in check.recommendations}
    if codes is None:
        codes = list(recs)
    unknown = [c for c in codes if c not in recs]
    if unknown:
        raise ValidationError({"codes": [f"Not a recommendation of this check: {unknown}."]})
    if not codes:
        raise ValidationError({"check": ["This check has no recommendations to apply."]})
    with transaction.atomic():
        judge = JudgeConfig.objects.select_for_update().get(pk=check.judge_id)
        before = {
            "model": judge.model,
            "params": dict(judge.params),
            "concurrency": judge.concurrency,
        }
        params = dict(judge.params)
        for code in codes:
            changes = recs[code]["changes"]
            params.update(changes.get("params", {}))
            if "concurrency" in changes:
                judge.concurrency = int(changes["concurrency"])
            if "model" in changes:
                judge.model = str(changes["model"])
        errors = judge_config_errors(
            backend=judge.backend, model=judge.model, api_key_env=judge.api_key_env, params=params
        )
        if errors:
            raise ValidationError(errors)
        judge.params = params
        judge.save()
        JudgeCheck.objects.filter(pk=check.pk).update(applied_at=timezone.now())
        audit_event_record(
            actor=actor,
            action="judge.check.apply",
            obj=judge,
            before=before,
            after={
                "check": check.pk,
                "codes": list(codes),
                "model": judge.model,
                "params": params,
                "concurrency": judge.concurrency,
            },
        )
    return judge
