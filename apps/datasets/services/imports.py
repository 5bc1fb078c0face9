"""Importing pairs from a file into a dataset, all or nothing, with the file's own annotators'
labels handed to whoever keeps annotations."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import IO, Any, cast

from django.db import transaction
from django.db.models import F

from apps.core.services import audit_event_record
from apps.datasets.importers import (
    FORMATS,
    ImportFailed,
    ImportOptions,
    ImportProblem,
    ParseSummary,
    get_importer,
)
from apps.datasets.models import Dataset
from apps.datasets.services.writers import PairWriter, writer_for
from apps.datasets.signals import annotator_labels_imported


@dataclass(frozen=True)
class ImportResult:
    """What one import did.

    ``created`` pairs are new; ``duplicates`` were already in the dataset or repeated in the
    file; ``skipped`` rows carried no preference (identical responses), by reason in
    ``skipped_reasons``; ``annotations`` counts the imported annotators' labels stored.
    """

    created: int
    duplicates: int
    skipped: int
    annotations: int = 0
    skipped_reasons: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready counts (the API's and the audit log's shape)."""
        return {
            "created": self.created,
            "duplicates": self.duplicates,
            "skipped": self.skipped,
            "annotations": self.annotations,
            "skipped_reasons": dict(self.skipped_reasons),
        }


def _annotator_labels_store(dataset: Dataset, writer: PairWriter) -> int:
    """Hand the file's own annotators' labels to whoever keeps annotations; how many were kept."""
    if not writer.new_pair_ids:
        return 0
    labels = {
        pair_id: writer.annotations[content_hash]
        for content_hash, pair_id in writer.new_pair_ids.items()
    }
    responses = annotator_labels_imported.send(sender=Dataset, dataset=dataset, labels=labels)
    return sum(cast(int, stored) for _, stored in responses)


def _importer_for(
    *,
    format: str,
    domain: str | None,
    seed: int,
    mapping: Mapping[str, str] | None,
    source_name: str | None,
) -> Any:
    if format not in FORMATS:
        raise ImportFailed(
            [
                ImportProblem(
                    None, "format", f"unknown format {format!r}; use one of {', '.join(FORMATS)}"
                )
            ]
        )
    options = ImportOptions(
        domain=(domain or "").strip() or None,
        seed=seed,
        field_map=dict(mapping or {}),
        source_name=source_name,
    )
    try:
        return get_importer(format, options)
    except ValueError as exc:  # the field mapping names unknown or repeated targets
        raise ImportFailed([ImportProblem(None, "mapping", str(exc))]) from None


def _import_result(summary: ParseSummary, writer: PairWriter, annotations: int) -> ImportResult:
    return ImportResult(
        created=writer.created,
        duplicates=summary.duplicates + writer.conflicts,
        skipped=sum(summary.skipped.values()),
        annotations=annotations,
        skipped_reasons=dict(summary.skipped),
    )


def pairs_import(
    *,
    actor: Any,
    dataset: Dataset,
    file: IO[bytes],
    format: str,
    domain: str | None = None,
    seed: int = 0,
    mapping: Mapping[str, str] | None = None,
    source_name: str | None = None,
) -> ImportResult:
    """Stream the pairs of ``file`` (binary, plain or gzip) into ``dataset``, all or nothing.

    The records are written as the parser yields them, inside one transaction: COPY through a
    staging table on PostgreSQL, batched ``bulk_create`` elsewhere. A pair whose content hash
    is already in the dataset is a duplicate, so importing a file twice adds nothing. Labels
    of the source's own annotators (PandaLM) become imported ``Annotation`` rows of the new
    pairs. If the parser finds any problem the transaction is rolled back and
    :class:`ImportFailed` lists the problems with their lines and fields.
    ``source_name`` (default: the file object's name) lets HH-RLHF infer the domain.
    """
    if source_name is None:
        source_name = getattr(file, "name", None)
    importer = _importer_for(
        format=format, domain=domain, seed=seed, mapping=mapping, source_name=source_name
    )
    stream = importer.parse(file)
    with transaction.atomic():
        # One import at a time per dataset: the fast path of the writer relies on the dataset
        # staying empty until this import commits.
        Dataset.objects.select_for_update().filter(pk=dataset.pk).first()
        writer = writer_for(dataset)
        writer.write(stream)
        # Raising here, inside the atomic block, rolls back every pair written so far.
        stream.raise_for_problems()
        writer.finish()
        annotations = _annotator_labels_store(dataset, writer)
        if annotations:
            Dataset.objects.filter(pk=dataset.pk).update(
                annotator_label_count=F("annotator_label_count") + annotations
            )
        result = _import_result(stream.summary, writer, annotations)
        audit_event_record(
            actor=actor,
            action="dataset.import",
            obj=dataset,
            after={
                "format": format,
                "file": (source_name or "")[-200:],
                "domain": domain or None,
                "seed": seed,
                "rows": stream.summary.rows,
                **result.as_dict(),
            },
        )
    return result
