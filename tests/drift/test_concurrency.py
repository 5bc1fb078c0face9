"""Promotions and alert decisions on one rubric racing each other in threads, against PostgreSQL:
the rubric's row lock makes them happen one after the other, so the end state is one the gate
would have allowed had they come one by one."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection

from apps.core.api import Conflict
from apps.core.models import AuditEvent
from apps.drift import selectors, services
from apps.drift.models import AlertStatus, DriftAlert
from apps.rubrics.models import RubricLabel, RubricVersion
from apps.rubrics.services import rubric_label_move
from tests.drift.factories import MASKED, UNCHANGED, make_run, make_scenario
from tests.factories import SAFE_CRITERIA, make_version

pytestmark = [pytest.mark.slow]
ROUNDS = 6


def _race(*jobs: Callable[[], Any]) -> list[Any]:
    """Run the jobs in threads released together; each result is its return value or error."""
    start = threading.Barrier(len(jobs))
    results: list[Any] = [None] * len(jobs)

    def work(index: int, job: Callable[[], Any]) -> None:
        try:
            start.wait(timeout=30)
            results[index] = job()
        except Exception as exc:  # the caller inspects what each side got
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(i, job)) for i, job in enumerate(jobs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a thread hung"
    return results


def _needs_postgresql() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: row locks are what this test is about")


def test_two_promotions_race_and_only_one_reaches_production(
    transactional_db: None, project: Any, members: dict[str, Any]
) -> None:
    """v2 and v3 both passed against production v1. Whichever is promoted first moves
    production, so the other was never compared with the new production and is refused."""
    _needs_postgresql()
    admin = members["admin"]
    for _ in range(ROUNDS):
        scenario = make_scenario(project, UNCHANGED)
        rubric_label_move(actor=admin, rubric=scenario.rubric, version=scenario.v1)
        v3 = make_version(
            scenario.rubric.project,
            rubric=scenario.rubric,
            criteria=SAFE_CRITERIA,
            parent=scenario.v1,
        )
        run_v3 = make_run(
            version=v3,
            judge=scenario.judge,
            reference_set=scenario.reference_set,
            verdicts=["A"] * 20 + ["B"] * 20,
            pairs=scenario.pairs,
        )
        for candidate_run in (scenario.candidate_run, run_v3):
            report = services.drift_report_create(
                actor=None,
                baseline_run=scenario.baseline_run,
                candidate_run=candidate_run,
                dispatch=False,
            )
            assert not services.drift_report_build(report_id=report.pk).flags
        ids = [scenario.v2.pk, v3.pk]

        def promote(version_id: int, rubric: Any = scenario.rubric) -> RubricVersion:
            version = RubricVersion.objects.get(pk=version_id)
            return rubric_label_move(actor=admin, rubric=rubric, version=version).version

        results = _race(*(lambda pk=pk: promote(pk) for pk in ids))
        won = [r for r in results if isinstance(r, RubricVersion)]
        refused = [r for r in results if isinstance(r, Conflict)]
        assert len(won) == 1 and len(refused) == 1, results
        assert "Production is v" in refused[0].detail["detail"]
        label = RubricLabel.objects.get(rubric=scenario.rubric, name="production")
        assert label.version == won[0]
        promotions = AuditEvent.objects.filter(
            action="rubric.promote", object_id=str(scenario.rubric.pk)
        ).order_by("id")
        assert [e.after["version_id"] for e in promotions] == [scenario.v1.pk, won[0].pk]


def test_block_and_promote_race_to_a_consistent_end(
    transactional_db: None, project: Any, members: dict[str, Any]
) -> None:
    """An approved alert is blocked while v2 is promoted: either the promotion came first (and
    the audit log says so) or the block did and the promotion was refused. Never a promotion
    that read "approved" after the block was decided."""
    _needs_postgresql()
    admin = members["admin"]
    for _ in range(ROUNDS):
        scenario = make_scenario(project, MASKED)
        rubric_label_move(actor=admin, rubric=scenario.rubric, version=scenario.v1)
        report = services.drift_report_create(
            actor=None,
            baseline_run=scenario.baseline_run,
            candidate_run=scenario.candidate_run,
            dispatch=False,
        )
        alert = services.drift_report_build(report_id=report.pk).alert
        services.alert_resolve(actor=admin, alert=alert, decision="approve", reason="Fine.")

        def block(alert_id: int = alert.pk) -> Any:
            found = DriftAlert.objects.get(pk=alert_id)
            return services.alert_resolve(actor=admin, alert=found, decision="block", reason="No")

        def promote(rubric: Any = scenario.rubric, version_id: int = scenario.v2.pk) -> Any:
            version = RubricVersion.objects.get(pk=version_id)
            return rubric_label_move(actor=admin, rubric=rubric, version=version)

        blocked, promoted = _race(block, promote)
        assert not isinstance(blocked, Exception), blocked
        alert.refresh_from_db()
        assert alert.status == AlertStatus.BLOCKED
        production = selectors.production_version(scenario.rubric)
        block_event = AuditEvent.objects.get(action="drift_alert.block", object_id=str(alert.pk))
        if isinstance(promoted, Conflict):
            assert production == scenario.v1
            assert "blocked" in promoted.detail["detail"]

        else:
            assert production == scenario.v2
            promote_event = AuditEvent.objects.filter(
                action="rubric.promote", object_id=str(scenario.rubric.pk)
            ).latest("id")
            assert promote_event.after["version_id"] == scenario.v2.pk
            assert promote_event.pk < block_event.pk
