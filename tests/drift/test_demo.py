"""The whole demo ends with the masked-drift alert on rubric v2; running it twice adds nothing."""

from __future__ import annotations

import pytest

from apps.core.demo import demo_seed
from apps.drift import selectors
from apps.drift.gate import promotion_refusal
from apps.drift.models import DriftAlert, DriftReport
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
    assert any("drift alert (high, open) on v2" in line for line in lines)
    # The guard is on, so v2 cannot take production until an admin approves.
    rubric.refresh_from_db()
    assert rubric.guard_enabled
    assert selectors.version_drift_status(v2) == selectors.ALERT_OPEN
    reason = promotion_refusal(rubric=rubric, version=v2, label="production")
    assert reason is not None and "is open" in reason
    assert (
        RubricLabel.objects.get(rubric=rubric, name="production").version
        == ctx.objects["rubric_v1"]
    )

    demo_seed(write=lambda text: None)
    assert DriftReport.objects.count() == 1
    assert DriftAlert.objects.count() == 1
