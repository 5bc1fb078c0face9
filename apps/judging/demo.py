"""Demo step: the offline demo judge and two finished runs (rubric v1 and v2) on the reference set.

The runs are judged right here, in-process (no worker needed), so ``make run`` opens on finished
runs. Idempotent: an existing finished demo run of the same version, judge and snapshot is kept.
"""

from __future__ import annotations

from typing import Any

from apps.core.demo import DemoContext
from apps.judging import services
from apps.judging.models import Backend, JudgeConfig, JudgingRun, RunStatus

DEMO_JUDGE_NAME = "Offline demo judge"
DEMO_PURPOSE = "demo"


def seed_demo(ctx: DemoContext) -> None:
    """Create the demo judge and judge the demo reference set with rubric v1 and v2."""
    judge, created = JudgeConfig.objects.get_or_create(
        project=ctx.project,
        name=DEMO_JUDGE_NAME,
        defaults={"backend": Backend.OFFLINE, "model": "rule-based", "params": {}},
    )
    ctx.write(
        f"  judge {judge.name!r} (demo/test judge: rule-based, no model)"
        + ("" if created else " (already there)")
    )
    ctx.objects["judge"] = judge
    reference_set = ctx.objects.get("reference_set")
    versions: dict[str, Any] = {key: ctx.objects.get(key) for key in ("rubric_v1", "rubric_v2")}
    if reference_set is None or any(v is None for v in versions.values()):
        ctx.write("  no demo reference set or rubric versions: demo runs skipped")
        return
    actor = ctx.users.get("admin")
    for number, key in ((1, "rubric_v1"), (2, "rubric_v2")):
        version = versions[key]
        run = (
            JudgingRun.objects.filter(
                project=ctx.project,
                rubric_version=version,
                judge=judge,
                reference_set=reference_set,
                purpose=DEMO_PURPOSE,
            )
            .exclude(status__in=(RunStatus.FAILED, RunStatus.CANCELLED))
            .order_by("-created_at")
            .first()
        )
        if run is None:
            run = services.run_start(
                actor=actor,
                rubric_version=version,
                judge=judge,
                reference_set=reference_set,
                purpose=DEMO_PURPOSE,
                dispatch=False,
            )
        if not run.is_finished:
            run = services.run_execute(run=run)
        ctx.write(f"  run #{run.pk} (rubric v{number}): {run.status}, {run.done} judgments")
        ctx.objects[f"run_v{number}"] = run
