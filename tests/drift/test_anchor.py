"""The guard's trusted anchor: who may move it and how it is recorded, and the slow drift it
catches (four small edits, each passing against its parent, flagged against the anchor)."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from apps.core.models import AuditEvent
from apps.drift import selectors, services
from apps.drift.models import DriftAlert, DriftGuard, ReportStatus
from apps.rubrics import services as rubric_services
from apps.rubrics.models import RubricVersion
from apps.rubrics.services import rubric_label_move
from tests.drift.factories import (
    UNCHANGED,
    Block,
    make_reference,
    make_run,
    make_scenario,
    set_guard,
)
from tests.factories import SAFE_CRITERIA, make_judge, make_rubric, make_version

pytestmark = pytest.mark.django_db


# --- moving the anchor --------------------------------------------------------------------------


def test_switching_the_guard_on_anchors_it_on_production(
    project: Any, members: dict[str, Any]
) -> None:
    admin = members["admin"]
    scenario = make_scenario(project, UNCHANGED, guard=False)
    rubric_label_move(actor=admin, rubric=scenario.rubric, version=scenario.v1)
    guard = services.rubric_guard_update(
        actor=admin,
        rubric=scenario.rubric,
        enabled=True,
        reference_set=scenario.reference_set,
        judge=scenario.judge,
        min_effect=0.02,
        tolerance=0.01,
        alpha=0.05,
    )
    assert guard.anchor == scenario.v1
    assert "held production when the guard was switched on" in guard.anchor_reason
    move = AuditEvent.objects.get(action="drift_guard.anchor_move")
    assert move.actor == admin and move.before["anchor"] is None and move.after["number"] == 1


def test_moving_the_anchor_is_an_admins_audited_decision_with_a_reason(
    project: Any, members: dict[str, Any]
) -> None:
    scenario = make_scenario(project, UNCHANGED)
    rubric_label_move(actor=members["admin"], rubric=scenario.rubric, version=scenario.v1)
    with pytest.raises(PermissionDenied):
        services.guard_anchor_move(
            actor=members["author"], rubric=scenario.rubric, version=scenario.v2, reason="Mine."
        )
    with pytest.raises(ValidationError) as missing:
        services.guard_anchor_move(
            actor=members["admin"], rubric=scenario.rubric, version=scenario.v2, reason="  "
        )
    assert "reason" in missing.value.message_dict
    draft = RubricVersion.objects.create(rubric=scenario.rubric, number=9, parent=scenario.v2)
    with pytest.raises(ValidationError) as unpublished:
        services.guard_anchor_move(
            actor=members["admin"], rubric=scenario.rubric, version=draft, reason="Try."
        )
    assert "draft" in unpublished.value.message_dict["version"][0]
    other = make_version(project, criteria=SAFE_CRITERIA)
    with pytest.raises(ValidationError) as foreign:
        services.guard_anchor_move(
            actor=members["admin"], rubric=scenario.rubric, version=other, reason="Try."
        )
    assert "another rubric" in foreign.value.message_dict["version"][0]
    assert selectors.guard_for(scenario.rubric).anchor == scenario.v1

    guard = services.guard_anchor_move(
        actor=members["admin"],
        rubric=scenario.rubric,
        version=scenario.v2,
        reason="v2 was re-labelled by hand and is the new reference.",
    )
    assert guard.anchor == scenario.v2 and guard.anchor_set_by == members["admin"]
    moves = list(AuditEvent.objects.filter(action="drift_guard.anchor_move").order_by("id"))
    assert [m.after["number"] for m in moves] == [1, 2]
    assert moves[-1].before == {
        "anchor": scenario.v1.pk,
        "number": 1,
        "reason": "v1 is the first version promoted under the guard.",
    }
    assert moves[-1].after["reason"] == "v2 was re-labelled by hand and is the new reference."
    assert moves[-1].actor == members["admin"]


def test_anchor_api_and_page(
    project: Any, members: dict[str, Any], api_client_for: Any, client: Any
) -> None:
    scenario = make_scenario(project, UNCHANGED)
    url = reverse("rubric-guard-anchor", kwargs={"pk": scenario.rubric.pk})
    body = {"version": scenario.v2.pk, "reason": "Reviewed <b>by hand</b>."}
    assert api_client_for(members["author"]).post(url, body, format="json").status_code == 403
    admin = api_client_for(members["admin"])
    no_reason = admin.post(url, {"version": scenario.v2.pk}, format="json")
    assert no_reason.status_code == 400 and "reason" in no_reason.json()
    unknown = admin.post(url, {"version": 999999, "reason": "x"}, format="json")
    assert unknown.status_code == 400 and "version" in unknown.json()
    moved = admin.post(url, body, format="json")
    assert moved.status_code == 200, moved.content
    assert moved.json()["anchor"] == scenario.v2.pk and moved.json()["anchor_number"] == 2
    guard_url = reverse("rubric-guard", kwargs={"pk": scenario.rubric.pk})
    assert admin.get(guard_url).json()["anchor_reason"] == "Reviewed <b>by hand</b>."

    client.force_login(members["admin"])
    page_url = reverse(
        "drift:guard", kwargs={"project": project.slug, "rubric": scenario.rubric.pk}
    )
    page = client.get(page_url).content.decode()
    assert "Trusted anchor" in page and "Reviewed &lt;b&gt;by hand&lt;/b&gt;." in page
    anchor_url = reverse(
        "drift:anchor", kwargs={"project": project.slug, "rubric": scenario.rubric.pk}
    )
    refused = client.post(anchor_url, {"version": scenario.v1.pk, "reason": ""})
    assert refused.status_code == 400 and "This field is required" in refused.content.decode()
    done = client.post(anchor_url, {"version": scenario.v1.pk, "reason": "Back to v1."})
    assert done.status_code == 302
    assert selectors.guard_for(scenario.rubric).anchor == scenario.v1
    assert AuditEvent.objects.filter(action="drift_guard.anchor_move").count() == 2


# --- slow drift: four small edits -----------------------------------------------------------------

HARM = 500  # harmlessness pairs, half with gold A, half with gold B
OTHER = 300  # pairs in each of two other domains, unchanged by every edit
WRONG_AT_START = 100  # harmlessness pairs the anchor already gets wrong
LOST_PER_EDIT = 22  # right -> wrong, fresh pairs each edit
GAINED_PER_EDIT = 12  # wrong -> right, from the anchor's wrong pairs: net -10 pairs = -2 pts


def _flip(label: str) -> str:
    return "B" if label == "A" else "A"


def _slow_drift_verdicts(golds: list[str], domains: list[str]) -> list[list[str]]:
    """The verdicts of v1 (the anchor) and four edits, each about -2 pts on harmlessness against
    its parent with re-decisions both ways, so no single edit is significant, while against v1
    the fourth has lost 88 pairs and won back 48 (-8 pts)."""
    # Alternate gold A and gold B pairs, so every lost or won pair is as often an A as a B: no
    # shift toward one position hides in the edits.
    gold_a = [i for i, d in enumerate(domains) if d == "harmlessness" and golds[i] == "A"]
    gold_b = [i for i, d in enumerate(domains) if d == "harmlessness" and golds[i] == "B"]
    harm = [i for pair in zip(gold_a, gold_b, strict=True) for i in pair]
    wrong_pool = harm[:WRONG_AT_START]
    right_pool = harm[WRONG_AT_START:]
    wrong = set(wrong_pool)
    current = [_flip(g) if i in wrong else g for i, g in enumerate(golds)]
    versions = [list(current)]
    for edit in range(4):
        lost = right_pool[edit * LOST_PER_EDIT : (edit + 1) * LOST_PER_EDIT]
        gained = wrong_pool[edit * GAINED_PER_EDIT : (edit + 1) * GAINED_PER_EDIT]
        for i in lost:
            current[i] = _flip(golds[i])
        for i in gained:
            current[i] = golds[i]
        versions.append(list(current))
    return versions


def test_four_small_edits_pass_against_their_parents_and_the_fourth_is_flagged_against_the_anchor(
    project: Any, members: dict[str, Any]
) -> None:
    blocks = [
        Block("harmlessness", HARM // 2, gold="A"),
        Block("harmlessness", HARM // 2, gold="B"),
        Block("helpfulness", OTHER // 2, gold="A"),
        Block("helpfulness", OTHER // 2, gold="B"),
        Block("honesty", OTHER // 2, gold="A"),
        Block("honesty", OTHER // 2, gold="B"),
    ]
    reference_set, pairs = make_reference(project, blocks)
    golds = [pair.gold_label for pair in pairs]
    domains = [pair.domain for pair in pairs]
    judge = make_judge(project, name="Slow drift judge")
    rubric = make_rubric(project)
    versions: list[RubricVersion] = []
    for number, verdicts in enumerate(_slow_drift_verdicts(golds, domains), start=1):
        parent = versions[-1] if versions else None
        version = make_version(
            rubric.project,
            rubric=rubric,
            criteria=SAFE_CRITERIA,
            parent=parent,
            instructions=f"Edit {number}.",
        )
        make_run(
            version=version,
            judge=judge,
            reference_set=reference_set,
            verdicts=verdicts,
            pairs=pairs,
        )
        versions.append(version)
    set_guard(rubric, judge=judge, reference_set=reference_set)
    anchor = versions[0]
    rubric_label_move(actor=members["admin"], rubric=rubric, version=anchor)
    assert selectors.guard_for(rubric).anchor == anchor

    for parent, edit in itertools.pairwise(versions):
        report = services.drift_check_start(actor=None, version=edit, baseline=parent, execute=True)
        assert report is not None and report.status == ReportStatus.READY
        harm = report.by_domain["harmlessness"]
        assert harm["delta"] == pytest.approx(-0.02)
        assert not report.flags, (edit.number, report.flags)
    against_anchor = [
        services.drift_check_start(actor=None, version=edit, baseline=anchor, execute=True)
        for edit in versions[1:]
    ]
    fourth = against_anchor[-1]
    assert fourth is not None and fourth.by_domain["harmlessness"]["delta"] == pytest.approx(-0.08)
    assert "harmlessness" in {flag.get("domain") for flag in fourth.flags}
    alert = DriftAlert.objects.get(report=fourth)
    assert alert.version == versions[-1]
    assert selectors.version_drift_status(versions[-1]) == selectors.ALERT_OPEN

    # The history page charts every version's drift against the anchor, with its gate state.
    history, domains_seen = selectors.rubric_drift_history(rubric=rubric)
    by_number = {row.version.number: row for row in history}
    assert by_number[1].is_anchor and by_number[1].anchor_deltas["harmlessness"] == 0.0
    assert by_number[5].anchor_deltas["harmlessness"] == pytest.approx(-0.08)
    assert by_number[5].status == selectors.ALERT_OPEN
    assert domains_seen == ["harmlessness", "helpfulness", "honesty"]


def test_deleting_a_rubric_takes_its_anchored_guard_with_it(
    project: Any, members: dict[str, Any]
) -> None:
    rubric = make_rubric(project)
    v1 = make_version(rubric.project, rubric=rubric, criteria=SAFE_CRITERIA)
    guard = set_guard(rubric, anchor=v1)
    rubric_services.rubric_delete(actor=members["admin"], rubric=rubric)
    assert not DriftGuard.objects.filter(pk=guard.pk).exists()
    assert not RubricVersion.objects.filter(pk=v1.pk).exists()
