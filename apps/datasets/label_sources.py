"""Where a reference set's labels can come from, besides a dataset's own imported labels.

A higher app (annotations: a queue's consensus) registers a source under the request field that
names it (``"queue"``) in its ``AppConfig.ready()``; the reference-set page, API and service ask
this registry and never import that app (docs/architecture.md, "Seams").
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError


@dataclass(frozen=True)
class LabelledPair:
    """One pair of a snapshot to be: its label and where the label came from."""

    pair_id: int
    content_hash: str
    domain: str
    label: str
    source: str


@dataclass(frozen=True)
class Labels:
    """The labels of one source, ready to freeze.

    ``kind`` and ``source_id`` name the source (``"queue"``, 12); ``description`` says it in
    words on the reference set's pages ("consensus of queue Pilot"); ``unlabelled`` counts the
    source's pairs that have no label yet.
    """

    kind: str
    source_id: int
    description: str
    dataset: Any
    items: list[LabelledPair]
    unlabelled: int


# ``resolve(project=..., pk=...)`` returns the labels of that source, or raises a
# ``ValidationError`` keyed by the source's field when no such source is in the project.
LabelSourceResolver = Callable[..., Labels]
_SOURCES: dict[str, LabelSourceResolver] = {}


def register_label_source(kind: str, resolve: LabelSourceResolver) -> None:
    """Offer ``kind`` (also the request field that names it) as a source of labels."""
    _SOURCES[kind] = resolve


def labels_from_source(*, kind: str, project: Any, pk: int) -> Labels:
    """The labels of source ``kind`` number ``pk`` in ``project``."""
    resolve = _SOURCES.get(kind)
    if resolve is None:
        raise ValidationError({kind: [f"Labels cannot come from a {kind} here."]})
    return resolve(project=project, pk=pk)
