"""Reads on rubrics: lists, the version tree, the judge-prompt preview, diffs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import Count, Prefetch, Q, QuerySet

from apps.accounts.models import Project
from apps.rubrics import hooks
from apps.rubrics.diff import diff_rubrics
from apps.rubrics.models import Rubric, RubricLabel, RubricVersion, VersionStatus
from apps.rubrics.spec import RubricSpec


def rubrics_for_project(*, project: Project) -> QuerySet[Rubric]:
    """The project's rubrics with their labels and version counts, by name."""
    return (
        Rubric.objects.filter(project=project)
        .annotate(
            version_count=Count("versions", distinct=True),
            draft_count=Count(
                "versions", filter=Q(versions__status=VersionStatus.DRAFT), distinct=True
            ),
        )
        .prefetch_related(
            Prefetch("labels", queryset=RubricLabel.objects.select_related("version"))
        )
        .order_by("name")
    )


def latest_published(*, rubric: Rubric) -> RubricVersion | None:
    """The rubric's newest published version."""
    return rubric.versions.filter(status=VersionStatus.PUBLISHED).order_by("-number").first()


def label_version(*, rubric: Rubric, label: str) -> RubricVersion | None:
    """The version a label points at (``production``...), if the label exists."""
    found = RubricLabel.objects.filter(rubric=rubric, name=label).select_related("version").first()
    return found.version if found else None


def version_gate(version: RubricVersion | None) -> hooks.VersionGate | None:
    """Where a version stands with the gate of an app that guards it (``hooks.version_status``),
    or None when there is no version or no app has an opinion."""
    if version is None:
        return None
    return hooks.version_status(version)


@dataclass
class RubricRow:
    """One line of the rubric list page."""

    rubric: Rubric
    production: RubricVersion | None
    latest: RubricVersion | None
    gate: hooks.VersionGate | None


def rubric_rows(*, project: Project) -> list[RubricRow]:
    """The rubric list: each rubric with its production version and its latest version's gate."""
    rows = []
    for rubric in rubrics_for_project(project=project):
        labels = {label.name: label.version for label in rubric.labels.all()}
        latest = latest_published(rubric=rubric)
        rows.append(
            RubricRow(
                rubric=rubric,
                production=labels.get("production"),
                latest=latest,
                gate=version_gate(latest),
            )
        )
    return rows


@dataclass
class TreeRow:
    """A version in the history, with its depth in the fork tree, its labels and, once
    published, its gate."""

    version: RubricVersion
    depth: int
    labels: list[str]
    gate: hooks.VersionGate | None = None


def version_tree(*, rubric: Rubric) -> list[TreeRow]:
    """The versions as a tree (children under their parent, newest branch first), depth-first.

    Each version appears once; a version whose parent belongs to another rubric (never made by
    the services, but possible in old data) is treated as a root.
    """
    versions = list(rubric.versions.select_related("author", "parent").order_by("number"))
    labels: dict[int, list[str]] = {}
    for label in rubric.labels.all():
        labels.setdefault(label.version_id, []).append(label.name)
    ids = {v.pk for v in versions}
    children: dict[int | None, list[RubricVersion]] = {}
    for version in versions:
        parent = version.parent_id if version.parent_id in ids else None
        children.setdefault(parent, []).append(version)
    rows: list[TreeRow] = []
    # An explicit stack rather than recursion: imported lineages can be deep.
    stack: list[tuple[RubricVersion, int]] = [
        (v, 0) for v in sorted(children.get(None, []), key=lambda v: v.number)
    ][::-1]
    while stack:
        version, depth = stack.pop()
        rows.append(
            TreeRow(
                version=version,
                depth=depth,
                labels=sorted(labels.get(version.pk, [])),
                gate=version_gate(version) if version.is_published else None,
            )
        )
        kids = sorted(children.get(version.pk, []), key=lambda v: v.number)
        stack.extend((kid, depth + 1) for kid in reversed(kids))
    return rows


def version_preview(*, version: RubricVersion, order: str = "AB") -> hooks.Preview:
    """The judge prompt of ``version`` for a sample pair (rubric first, pair last), as the
    judging app renders it through the rubrics app's seam."""
    return hooks.prompt_preview(version=version, order="BA" if order == "BA" else "AB")


def diff_base(*, version: RubricVersion) -> RubricVersion | None:
    """What a version is compared with by default: its parent."""
    return version.parent


def versions_diff(*, old: RubricVersion | None, new: RubricVersion) -> dict[str, Any]:
    """The structured diff from ``old`` (``None``: an empty rubric) to ``new``, as a dict."""
    old_spec = old.to_spec() if old is not None else RubricSpec()
    result: dict[str, Any] = diff_rubrics(old_spec, new.to_spec()).to_dict()
    return result
