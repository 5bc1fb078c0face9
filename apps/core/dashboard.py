"""The project dashboard is assembled from sections that each app contributes.

An app registers a function returning a ``DashboardSection`` (or ``None`` when the user may not
see it); the dashboard renders them in registration order. This keeps the accounts app from
importing every other app's models.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class DashboardSection:
    """One card on the dashboard: a title, a few figures and a link.

    ``links`` maps a figure's label to the list that shows the rows it counts, so each figure
    opens its evidence; a figure without an entry is shown plain.
    """

    title: str
    url: str
    figures: list[tuple[str, Any]] = field(default_factory=list)
    note: str = ""
    links: dict[str, str] = field(default_factory=dict)

    @property
    def figure_rows(self) -> list[tuple[str, Any, str]]:
        """``(label, value, url)`` per figure; the url is empty where the figure has no list."""
        return [(label, value, self.links.get(label, "")) for label, value in self.figures]


SectionBuilder = Callable[..., "DashboardSection | None"]
_BUILDERS: list[SectionBuilder] = []


def register_section(builder: SectionBuilder) -> SectionBuilder:
    """Decorator: add a section builder ``(project, user, capabilities) -> section | None``."""
    _BUILDERS.append(builder)
    return builder


def dashboard_sections(
    *, project: Any, user: Any, capabilities: set[str]
) -> list[DashboardSection]:
    """The sections this user sees on the project's dashboard."""
    sections = (b(project=project, user=user, capabilities=capabilities) for b in _BUILDERS)
    return [s for s in sections if s is not None]
