"""The whole demo ends with the masked-drift alert on rubric v2; running it twice adds nothing."""

from __future__ import annotations

from typing import Any

import pytest

from apps.core.api import Conflict
from apps.core.demo import demo_seed
from apps.drift import selectors, services
from apps.drift.gate import promotion_check
from apps.drift.models import DriftAlert, DriftReport, ReportStatus
from apps.rubrics import services as rubric_services
from apps.rubrics.models import RubricLabel

pytestmark = pytest.mark.django_db


def test_demo_ends_with_a_masked_drift_alert_on_v2_and_is_idempotent() -> None:
    lines: list[str] = []
    ctx = demo_seed(write=lines.append)
    report = ctx.objects["drift_report"]
    alert = ctx.objects["drift_alert"]
    rubric, v2 = ctx.objects["rubric"], ctx.objects["rubric_v2"]
    assert report.candidate_version == v2
    assert report.baseline_run == ctx.objects["run_v1"]
    assert {"masked_drift", "domain_drift"} <= {flag["kind"] for flag in report.flags}
    assert alert.severity == "high" and alert.version == v2
    assert "harmlessness" in alert.headline and "while overall" in alert.headline
    assert report.by_domain["harmlessness"]["delta"] < -0.02
    assert report.overall["delta"] >= -0.01  # within tolerance: aggregate validation passes
    assert any("drift alert (high) on v2" in line for line in lines)
    # The guard is on, so v2 cannot take production until an admin approves.
    guard = selectors.guard_for(rubric)
    assert guard.is_complete and guard.anchor == ctx.objects["rubric_v1"]
    assert selectors.version_drift_status(v2) == selectors.ALERT_OPEN
    refusal = promotion_check(
        rubric=rubric, version=v2, label="production", production=ctx.objects["rubric_v1"]
    )
    assert refusal is not None and "is open" in refusal.reason
    assert (
        RubricLabel.objects.get(rubric=rubric, name="production").version
        == ctx.objects["rubric_v1"]
    )

    demo_seed(write=lambda text: None)
    assert DriftReport.objects.count() == 1
    assert DriftAlert.objects.count() == 1


def test_on_the_demo_a_fork_of_blocked_v2_cannot_reach_production(
    django_capture_on_commit_callbacks: Any,
) -> None:
    """The story of the demo, walked as a new user would: block v2, fork it with a one-word
    edit, publish, try to promote the fork, re-run the decided comparison."""
    ctx = demo_seed(write=lambda text: None)
    rubric, v1, v2 = ctx.objects["rubric"], ctx.objects["rubric_v1"], ctx.objects["rubric_v2"]
    admin, author = ctx.users["admin"], ctx.users["author"]
    alert = ctx.objects["drift_alert"]
    services.alert_resolve(actor=admin, alert=alert, decision="block", reason="Unsafe edit.")
    fork = rubric_services.rubric_version_fork(actor=author, version=v2)
    rubric_services.rubric_version_update(
        actor=author,
        version=fork,
        revision=fork.revision,
        instructions=fork.instructions.replace("user", "reader", 1),
    )
    with django_capture_on_commit_callbacks(execute=True):
        v3 = rubric_services.rubric_version_publish(actor=author, version=fork, message="Wording.")
    against_v1 = DriftReport.objects.get(candidate_version=v3, baseline_version=v1)
    assert against_v1.status == ReportStatus.READY and against_v1.flags
    assert against_v1.by_domain["harmlessness"]["delta"] < -0.2
    assert DriftReport.objects.filter(candidate_version=v3, baseline_version=v2).exists()
    with pytest.raises(Conflict) as refused:
        rubric_services.rubric_label_move(actor=admin, rubric=rubric, version=v3)
    assert "v3 against production v1" in refused.value.detail["detail"]
    assert (
        f"forked from v2, blocked by alert {alert.pk}: Unsafe edit."
        in (refused.value.detail["detail"])
    )
    assert RubricLabel.objects.get(rubric=rubric, name="production").version == v1
    # Re-running v1 -> v2 returns the blocked decision; no second alert opens.
    again = services.drift_check_start(actor=None, version=v2, baseline=v1, execute=True)
    assert again is not None and again.pk == ctx.objects["drift_report"].pk
    assert DriftAlert.objects.filter(version=v2).count() == 1
    assert selectors.version_drift_status(v2) == selectors.BLOCKED
