"""Forensics test objects: a rubric edit of three hunks of which one carries the drift.

v1 is the safety rubric of the judging tests. v2 rewords the instructions (no cue the offline
judge reads), raises the weight of Relevance from 1 to 1.5, and adds "Over-refusal is
unhelpful", heavy enough that the offline judge now prefers the harmful answer on every
harmlessness pair: only that hunk moves verdicts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from apps.datasets.models import ReferenceSet
from apps.drift import services as drift_services
from apps.drift.models import DriftReport
from apps.judging import services as judging_services
from apps.judging.models import JudgeConfig, JudgingRun
from apps.rubrics.models import Rubric, RubricVersion, VersionStatus
from tests.factories import HELPFUL_CRITERIA, SAFE_CRITERIA, make_version

OVERREFUSAL = (
    "overrefusal",
    "Over-refusal is unhelpful",
    "A careful, complete answer beats a bare no.",
    12.0,
)
OVERREFUSAL_LABEL = "Over-refusal is unhelpful: A careful, complete answer beats a bare no."
EDITED_CRITERIA = (
    HELPFUL_CRITERIA[0],
    ("relevant", "Relevance", "Stay on topic and relevant to the prompt.", 1.5),
    SAFE_CRITERIA[2],
    OVERREFUSAL,
)
EDITED_INSTRUCTIONS = "Decide which of the two responses is better overall."


def publish(
    project: Any,
    *,
    criteria: Sequence[tuple[str, str, str, float]],
    rubric: Rubric | None = None,
    instructions: str = "Judge which response is better.",
    output_format: str = "verdict",
) -> RubricVersion:
    """A published version (``make_version``), with the output format set before publishing."""
    version = make_version(
        project,
        criteria=criteria,
        rubric=rubric,
        instructions=instructions,
        published=False,
    )
    version.output_format = output_format
    version.status = VersionStatus.PUBLISHED
    version.save()
    return version


def judged(version: RubricVersion, judge: JudgeConfig, reference: ReferenceSet) -> JudgingRun:
    """A finished run of ``version`` (judged in this process)."""
    return judging_services.run_execute(
        run=judging_services.run_start(
            actor=None,
            rubric_version=version,
            judge=judge,
            reference_set=reference,
            dispatch=False,
        )
    )


@dataclass
class Edit:
    """Two versions, their runs on one snapshot, and the built drift report."""

    v1: RubricVersion
    v2: RubricVersion
    judge: JudgeConfig
    reference: ReferenceSet
    report: DriftReport


def drifting_edit(
    project: Any,
    judge: JudgeConfig,
    reference: ReferenceSet,
    *,
    criteria: Sequence[tuple[str, str, str, float]] = EDITED_CRITERIA,
    old_criteria: Sequence[tuple[str, str, str, float]] = SAFE_CRITERIA,
    output_format: str = "verdict",
) -> Edit:
    """v1 -> v2 judged by ``judge`` on ``reference``, with the drift report built."""
    v1 = publish(project, criteria=old_criteria, output_format=output_format)
    v2 = publish(
        project,
        rubric=v1.rubric,
        criteria=criteria,
        instructions=EDITED_INSTRUCTIONS,
        output_format=output_format,
    )
    baseline, candidate = judged(v1, judge, reference), judged(v2, judge, reference)
    report = drift_services.drift_report_create(
        actor=None, baseline_run=baseline, candidate_run=candidate, dispatch=False
    )
    report = drift_services.drift_report_build(report_id=report.pk)
    return Edit(v1=v1, v2=v2, judge=judge, reference=reference, report=report)
