"""Fixtures of the datasets tests: a dataset in the test project and import helpers."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import pytest

from apps.accounts.models import Project
from apps.datasets import services
from apps.datasets.models import Dataset
from tests.datasets.samples import Sample


@pytest.fixture
def dataset(project: Project) -> Dataset:
    return Dataset.objects.create(project=project, name="Test pairs")


@pytest.fixture
def import_sample(dataset: Dataset) -> Callable[..., services.ImportResult]:
    """Import a :class:`Sample` (or raw bytes with a format) through the service."""

    def run(sample: Sample, *, into: Dataset | None = None, **options: Any) -> Any:
        return services.pairs_import(
            actor=None,
            dataset=into or dataset,
            file=io.BytesIO(sample.content),
            format=sample.format,
            source_name=sample.name,
            **options,
        )

    return run
