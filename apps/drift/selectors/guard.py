"""The drift guard of a rubric and what a candidate version is compared with (production, the
anchor, its parent or predecessor)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from apps.drift import hooks
from apps.drift.flags import DriftThresholds
from apps.drift.models import DriftGuard
from apps.rubrics.models import Rubric, RubricLabel, RubricVersion, VersionStatus

# The roles a baseline plays for a candidate. Production and the anchor gate the promotion; the
# parent is shown to the author and gates nothing by itself (its alerts still need a decision).
PRODUCTION = "production"
ANCHOR = "anchor"
PARENT = "parent"
PREDECESSOR = "predecessor"
GATING_ROLES = frozenset({PRODUCTION, ANCHOR})


def guard_for(rubric: Rubric) -> DriftGuard:
    """The rubric's drift guard; an unsaved, switched-off one when it never had a guard."""
    guard = (
        DriftGuard.objects.select_related("judge", "reference_set", "anchor")
        .filter(rubric_id=rubric.pk)
        .first()
    )
    return guard if guard is not None else DriftGuard(rubric=rubric)


def guard_reference_set_id(rubric: Rubric) -> int | None:
    """The reference set of the rubric's guard, on or off (the preview samples a pair from it)."""
    found: int | None = (
        DriftGuard.objects.filter(rubric_id=rubric.pk)
        .values_list("reference_set", flat=True)
        .first()
    )
    return found


def guard_is_complete(rubric: Rubric) -> bool:
    """Whether the rubric's drift guard is on and names both a judge and a reference set."""
    return guard_for(rubric).is_complete


def guard_thresholds(rubric: Rubric) -> DriftThresholds:
    """The flag thresholds of the rubric's drift guard."""
    guard = guard_for(rubric)
    return DriftThresholds(
        min_effect=guard.min_effect, tolerance=guard.tolerance, alpha=guard.alpha
    )


def production_version(rubric: Rubric) -> RubricVersion | None:
    """The version the rubric's ``production`` label points at now."""
    label = (
        RubricLabel.objects.filter(rubric_id=rubric.pk, name=PRODUCTION)
        .select_related("version")
        .first()
    )
    return label.version if label is not None else None


def drift_predecessor(version: RubricVersion) -> RubricVersion | None:
    """The version a published ``version`` is compared with: its parent if that is published,
    else the version published most recently before it (None for the first one)."""
    parent = version.parent
    if parent is not None and parent.is_published and parent.rubric_id == version.rubric_id:
        return parent
    earlier = RubricVersion.objects.filter(
        rubric_id=version.rubric_id, status=VersionStatus.PUBLISHED
    ).exclude(pk=version.pk)
    if version.published_at is not None:
        earlier = earlier.filter(published_at__lt=version.published_at)
    else:
        earlier = earlier.filter(number__lt=version.number)
    return earlier.order_by("-published_at", "-number").first()


@dataclass(frozen=True)
class Baseline:
    """A version a candidate is compared with, and the roles it plays (production, anchor...)."""

    version: RubricVersion
    roles: tuple[str, ...]

    @property
    def gates(self) -> bool:
        return bool(GATING_ROLES.intersection(self.roles))

    @property
    def words(self) -> str:
        """``production v1``, ``the anchor v1``, ``production and the anchor v1``..."""
        names = {PRODUCTION: "production", ANCHOR: "the anchor", PARENT: "its parent"}
        named = [names[role] for role in self.roles if role in names] or ["its predecessor"]
        return f"{' and '.join(named)} v{self.version.number}"


def guard_baselines(
    version: RubricVersion,
    *,
    guard: DriftGuard,
    production: RubricVersion | None,
    gating_only: bool = False,
) -> list[Baseline]:
    """What ``version`` is compared with under its guard: the production version, the anchor,
    and (unless ``gating_only``) its parent, each once, never itself.

    A rubric with neither production nor an anchor yet compares the version with its
    predecessor, so early versions are still checked.
    """
    roles: dict[int, list[str]] = {}
    versions: dict[int, RubricVersion] = {}

    def add(candidate: RubricVersion | None, role: str) -> None:
        if candidate is None or candidate.pk == version.pk or not candidate.is_published:
            return
        if candidate.rubric_id != version.rubric_id:
            return
        versions[candidate.pk] = candidate
        roles.setdefault(candidate.pk, []).append(role)

    add(production, PRODUCTION)
    add(guard.anchor, ANCHOR)
    if not gating_only:
        parent = version.parent
        add(parent, PARENT)
        if not roles:
            add(drift_predecessor(version), PREDECESSOR)
    return [Baseline(version=versions[pk], roles=tuple(found)) for pk, found in roles.items()]


def guard_judge_watch(guard: DriftGuard) -> dict[str, Any]:
    """What the guard page and the API show of the guard's judge: the judge in use, the one
    requested or edited in place with its clearance, and whether checks wait (read only)."""
    judge = guard.judge
    watch: dict[str, Any] = {
        "judge": judge.pk if judge is not None else None,
        "judge_name": judge.name if judge is not None else None,
        "requested_judge": None,
        "requested_judge_name": None,
        "edited_in_place": False,
        "clearance": None,
        "waiting": False,
    }
    if guard.requested_judge is not None:
        watch["requested_judge"] = guard.requested_judge.pk
        watch["requested_judge_name"] = guard.requested_judge.name
        watch["clearance"] = hooks.judge_clearance(guard, guard.requested_judge).payload()
    elif (
        judge is not None and guard.judge_state and guard.judge_state != hooks.judge_identity(judge)
    ):
        clearance = hooks.judge_clearance(guard, judge)
        watch["edited_in_place"] = True
        watch["clearance"] = clearance.payload()
        watch["waiting"] = not clearance.cleared
    return watch
