"""Writes of the datasets app: datasets, pair imports and frozen reference snapshots.

By concern: ``datasets`` (creating one), ``imports`` (a file's pairs, all or nothing),
``writers`` (COPY or batches into the pair table) and ``reference_sets`` (frozen snapshots).
"""

from apps.datasets.importers import ImportFailed
from apps.datasets.services.datasets import dataset_create
from apps.datasets.services.imports import ImportResult, pairs_import
from apps.datasets.services.reference_sets import reference_set_create, snapshot_content_hash

__all__ = [
    "ImportFailed",
    "ImportResult",
    "dataset_create",
    "pairs_import",
    "reference_set_create",
    "snapshot_content_hash",
]
