"""The forensics panel of a drift report page: ``{% load forensics %}{% forensics_panel %}``.

An inclusion tag, so the drift app's report page gains the panel with one line and its view
stays as it is: the tag reads ``report``, ``project`` and ``capabilities`` from the page's
context and the forensics selectors do the rest.
"""

from __future__ import annotations

from typing import Any

from django import template

from apps.forensics.views import panel_context

register = template.Library()


@register.inclusion_tag("forensics/_report_panel.html", takes_context=True)
def forensics_panel(context: template.Context) -> dict[str, Any]:
    """The panel for the page's ``report`` (attribution beside the diff, criteria, humans)."""
    return panel_context(
        request=context["request"],
        report=context["report"],
        project=context["project"],
        capabilities=context.get("capabilities") or set(),
    )


@register.filter
def pct(value: Any) -> str:
    """A proportion as a percentage with one decimal (empty for None)."""
    return "" if value is None else f"{float(value) * 100:.1f}%"


@register.filter
def pts(value: Any) -> str:
    """A proportion as signed points (``-12.3 pts``; empty for None)."""
    return "" if value is None else f"{float(value) * 100:+.1f} pts"


@register.filter
def pvalue(value: Any) -> str:
    """A p-value as pages show it (``<0.001`` below a thousandth)."""
    if value is None:
        return ""
    number = float(value)
    return "<0.001" if number < 0.001 else f"{number:.3f}"
