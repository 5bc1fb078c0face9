"""Fixtures for annotation tests: a project with several annotators."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from apps.accounts.models import Project, Role


@pytest.fixture
def annotators(project: Project, make_user: Callable[..., Any]) -> list[Any]:
    """Four members of ``project`` with the annotator role."""
    return [make_user(f"ann{i}", project=project, role=Role.ANNOTATOR) for i in range(1, 5)]


@pytest.fixture
def admin(project: Project, make_user: Callable[..., Any]) -> Any:
    return make_user("queue-admin", project=project, role=Role.ADMIN)
