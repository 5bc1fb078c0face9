"""Ending runs: closing a run once every item is written, and failing an active run."""

from __future__ import annotations

import logging
from collections import Counter

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from apps.core.services import audit_event_record
from apps.judging.models import (
    ACTIVE_RUN_STATUSES,
    ChunkStatus,
    JudgingRun,
    Judgment,
    JudgmentStatus,
    RunChunk,
    RunStatus,
    Verdict,
)
from apps.judging.selectors import run_accuracy_compute

log = logging.getLogger(__name__)


def run_fail(*, run: JudgingRun, reason: str) -> None:
    """End an active run as ``failed``: its pending items become failed with ``reason``.

    Locks are taken in the order every chunk write uses (judgments, then the run, then the
    chunks), so this cannot deadlock with a chunk that is writing.
    """
    with transaction.atomic():
        now = timezone.now()
        count = Judgment.objects.filter(run_id=run.pk, status=JudgmentStatus.PENDING).update(
            status=JudgmentStatus.FAILED, verdict=Verdict.INVALID, error=reason
        )
        changed = JudgingRun.objects.filter(pk=run.pk, status__in=ACTIVE_RUN_STATUSES).update(
            failed=F("failed") + count, status=RunStatus.FAILED, error=reason, finished_at=now
        )
        if not changed:
            # The run ended meanwhile: leave its items as they were.
            transaction.set_rollback(True)
            return
        RunChunk.objects.filter(
            run_id=run.pk, status__in=(ChunkStatus.PENDING, ChunkStatus.RUNNING)
        ).update(status=ChunkStatus.FAILED, error=reason, finished_at=now)
        audit_event_record(actor=None, action="run.fail", obj=run, after={"reason": reason})


def finalize_if_complete(run_id: int) -> str | None:
    """End the run once every item is done or failed; only the first caller changes the status."""
    row = JudgingRun.objects.filter(pk=run_id).values("total", "done", "failed", "status").first()
    if row is None or row["status"] not in ACTIVE_RUN_STATUSES:
        return None
    if row["done"] + row["failed"] < row["total"]:
        return None
    no_verdict = _no_verdict_summary(run_id, row["total"])
    if row["done"] == 0:
        status = RunStatus.FAILED
    elif row["failed"] > 0 or no_verdict:
        status = RunStatus.PARTIAL
    else:
        status = RunStatus.SUCCEEDED
    now = timezone.now()
    problems = []
    if row["failed"]:
        problems.append(f"{row['failed']} of {row['total']} judgments failed; see the failures.")
    if no_verdict:
        problems.append(no_verdict)
    error = " ".join(problems)
    changed = JudgingRun.objects.filter(pk=run_id, status__in=ACTIVE_RUN_STATUSES).update(
        status=status, finished_at=now, heartbeat_at=now, error=error
    )
    if not changed:
        return None
    run = JudgingRun.objects.get(pk=run_id)
    JudgingRun.objects.filter(pk=run_id).update(summary=run_accuracy_compute(run))
    return status


# What the most common reason for answers without a verdict means, in the run's message.
_NO_VERDICT_MEANINGS = {
    "answer cut off at max_tokens without a verdict": (
        "the model ignored the answer format (answers cut off at max_tokens)"
    ),
    "no verdict in the answer": "the model ignored the answer format",
    "the judge refused": "the judge refused to answer",
    "empty answer": "the judge gave empty answers",
}


def _no_verdict_summary(run_id: int, total: int) -> str:
    """The run's message when more than ``JUDGING_MAX_INVALID_SHARE`` of its answers came back
    without a verdict (empty when they did not): a run that produced mostly nothing must not
    look ``succeeded``. Answers, not failures: failed items are counted separately."""
    limit = float(settings.JUDGING_MAX_INVALID_SHARE)
    invalid = Judgment.objects.filter(
        run_id=run_id, status=JudgmentStatus.DONE, verdict=Verdict.INVALID
    )
    count = invalid.count()
    if total == 0 or count / total <= limit:
        return ""
    reasons = Counter(invalid.values_list("error", flat=True)[:1000])
    top = reasons.most_common(1)[0][0] if reasons else ""
    meaning = _NO_VERDICT_MEANINGS.get(top) or top or "no reason was given"
    return (
        f"{count} of {total} answers had no verdict: {meaning}; run the judge check to find "
        "out why and how to fix it."
    )
