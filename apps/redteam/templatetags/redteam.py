"""Template tags of the red-team app: the robustness line included on a rubric version's page."""

from __future__ import annotations

from typing import Any

from django import template

from apps.redteam import selectors

register = template.Library()


@register.simple_tag
def version_robustness(version: Any) -> dict[str, Any] | None:
    """The latest red team of ``version`` and its one-line result (None when never red-teamed)."""
    return selectors.version_robustness(version)


@register.simple_tag
def report_red_team(report: Any) -> dict[str, Any] | None:
    """A drift report's edit against the red team of its baseline (frontier and benign band)."""
    return selectors.report_against_red_team(report)
