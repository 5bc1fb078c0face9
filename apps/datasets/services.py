"""Writes of the datasets app: datasets, pair imports and frozen reference snapshots."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import IO, Any, cast

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import F, Field

from apps.accounts.models import Project
from apps.core.services import actor_or_none, audit_event_record
from apps.datasets.importers import (
    FORMATS,
    ImportFailed,
    ImportOptions,
    ImportProblem,
    PairRecord,
    get_importer,
)
from apps.datasets.label_sources import LabelledPair, Labels, labels_from_source
from apps.datasets.models import (
    Dataset,
    GoldLabel,
    Pair,
    ReferenceItem,
    ReferenceSet,
    ReferenceSource,
)
from apps.datasets.signals import annotator_labels_imported

__all__ = [
    "ImportFailed",
    "ImportResult",
    "dataset_create",
    "pairs_import",
    "reference_set_create",
]

# Rows per INSERT on the portable path, and per bulk insert of annotations and snapshot items.
BATCH_SIZE = 1000


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


# --- datasets ---------------------------------------------------------------------------------


@transaction.atomic
def dataset_create(
    *, actor: Any, project: Project, name: str, description: str = "", source: str = ""
) -> Dataset:
    """Create an empty dataset in ``project``; names are unique per project."""
    name = name.strip()
    if not name:
        raise ValidationError({"name": ["A dataset needs a name."]})
    if Dataset.objects.filter(project=project, name=name).exists():
        raise ValidationError({"name": [f"This project already has a dataset named {name!r}."]})
    dataset = Dataset.objects.create(
        project=project,
        name=name,
        description=description,
        source=source,
        created_by=actor_or_none(actor),
    )
    audit_event_record(actor=actor, action="dataset.create", obj=dataset, after={"name": name})
    return dataset


# --- imports ----------------------------------------------------------------------------------


class _PairWriter:
    """Collects parsed records into the dataset; ``finish`` reports what was new."""

    def __init__(self, dataset: Dataset) -> None:
        self.dataset = dataset
        self.created = 0
        self.conflicts = 0
        # content hash -> labels of imported annotators, for the pairs that carry them.
        self.annotations: dict[str, tuple[tuple[str, str], ...]] = {}
        # content hash -> id of the pairs this import created that carry annotations.
        self.new_pair_ids: dict[str, int] = {}

    def write(self, records: Iterable[PairRecord]) -> None:
        """Take in the records (they may still be rolled back)."""
        raise NotImplementedError

    def finish(self) -> None:
        """Complete the write once the whole file is known to be good."""

    def _remember(self, record: PairRecord) -> None:
        if record.annotations:
            self.annotations[record.content_hash] = record.annotations


def _column(name: str) -> str:
    """The database column of a ``Pair`` field."""
    field = Pair._meta.get_field(name)
    assert isinstance(field, Field)
    return str(field.column)


class _CopyWriter(_PairWriter):
    """PostgreSQL: COPY into a temporary staging table, then one INSERT ... ON CONFLICT.

    COPY streams rows without a round trip or a parse per row, which is what makes a
    100,000-pair import fast; the conflict clause turns pairs already in the dataset into
    duplicates instead of errors, so re-importing a file adds nothing.

    ``direct``: the dataset holds no pair yet (and is locked by the import), so nothing can
    conflict: the parser has already dropped repeats within the file. The rows are then copied
    straight into the pair table, which spares writing every row twice and sorting the staging
    table (about a third of the time of a first import of 100,000 pairs).
    """

    STAGING = "datasets_pair_import_staging"
    COLUMNS = (
        "external_id",
        "prompt",
        "response_a",
        "response_b",
        "domain",
        "gold_label",
        "metadata",
        "content_hash",
    )

    def __init__(self, dataset: Dataset, *, direct: bool = False) -> None:
        super().__init__(dataset)
        self.direct = direct
        self.staged = 0

    def write(self, records: Iterable[PairRecord]) -> None:
        qn = connection.ops.quote_name
        dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
        dataset_id = self.dataset.pk
        with connection.cursor() as cursor:
            if self.direct:
                target = qn(Pair._meta.db_table)
                columns = ", ".join(qn(_column(name)) for name in ("dataset", *self.COLUMNS))
            else:
                target = qn(self.STAGING)
                columns = ", ".join(("seq", *self.COLUMNS))
                cursor.execute(f"DROP TABLE IF EXISTS {target}")
                cursor.execute(
                    f"CREATE TEMPORARY TABLE {target} ("
                    "seq integer NOT NULL, external_id text NOT NULL, prompt text NOT NULL, "
                    "response_a text NOT NULL, response_b text NOT NULL, domain text NOT NULL, "
                    "gold_label text, metadata jsonb NOT NULL, content_hash text NOT NULL"
                    ") ON COMMIT DROP"
                )
            raw = cursor.cursor  # the psycopg cursor under Django's wrapper
            with raw.copy(f"COPY {target} ({columns}) FROM STDIN") as copy:
                for seq, record in enumerate(records):
                    # The first column is the row's place in the file (staging) or its dataset.
                    copy.write_row(
                        (
                            dataset_id if self.direct else seq,
                            record.external_id,
                            record.prompt,
                            record.response_a,
                            record.response_b,
                            record.domain,
                            record.gold_label,
                            dumps(record.metadata),
                            record.content_hash,
                        )
                    )
                    self._remember(record)
                    self.staged += 1

    def finish(self) -> None:
        if self.direct:
            self.created = self.staged
            if self.annotations:
                rows = Pair.objects.filter(dataset=self.dataset).values_list("content_hash", "id")
                self.new_pair_ids = {h: pk for h, pk in rows.iterator() if h in self.annotations}
            return
        with connection.cursor() as cursor:
            self._insert(cursor)
            cursor.execute(f"DROP TABLE {connection.ops.quote_name(self.STAGING)}")

    def _insert(self, cursor: Any) -> None:
        qn = connection.ops.quote_name
        meta = Pair._meta
        targets = ", ".join(qn(_column(name)) for name in self.COLUMNS)
        sources = ", ".join(self.COLUMNS)
        dataset_column = qn(_column("dataset"))
        returning = f" RETURNING id, {qn('content_hash')}" if self.annotations else ""
        # Every identifier comes from the model's metadata or the constants above, quoted;
        # the one value is a parameter.
        insert = (
            f"INSERT INTO {qn(meta.db_table)} ({dataset_column}, {targets}) "  # noqa: S608
            f"SELECT %s, {sources} FROM {qn(self.STAGING)} ORDER BY seq "
            f"ON CONFLICT ({dataset_column}, {qn('content_hash')}) DO NOTHING{returning}"
        )
        cursor.execute(insert, [self.dataset.pk])
        if self.annotations:
            rows = cursor.fetchall()
            self.created = len(rows)
            self.new_pair_ids = {h: pk for pk, h in rows if h in self.annotations}
        else:
            self.created = cursor.rowcount
        self.conflicts = self.staged - self.created


class _BatchWriter(_PairWriter):
    """Any other database (SQLite): ``bulk_create`` a batch at a time.

    Hashes already in the dataset are looked up per batch first, so the counts are exact and the
    ids of new pairs can be found for their annotations; ``ignore_conflicts`` stays as the
    safety net the unique constraint needs.
    """

    def write(self, records: Iterable[PairRecord]) -> None:
        batch: list[PairRecord] = []
        for record in records:
            batch.append(record)
            self._remember(record)
            if len(batch) >= BATCH_SIZE:
                self._flush(batch)
                batch = []
        if batch:
            self._flush(batch)

    def _flush(self, batch: list[PairRecord]) -> None:
        pairs = Pair.objects.filter(dataset=self.dataset)
        existing = set(
            pairs.filter(content_hash__in=[r.content_hash for r in batch]).values_list(
                "content_hash", flat=True
            )
        )
        new = [r for r in batch if r.content_hash not in existing]
        Pair.objects.bulk_create(
            [
                Pair(
                    dataset=self.dataset,
                    external_id=r.external_id,
                    prompt=r.prompt,
                    response_a=r.response_a,
                    response_b=r.response_b,
                    domain=r.domain,
                    gold_label=r.gold_label,
                    metadata=r.metadata,
                    content_hash=r.content_hash,
                )
                for r in new
            ],
            batch_size=BATCH_SIZE,
            ignore_conflicts=True,
        )
        self.created += len(new)
        self.conflicts += len(existing)
        annotated = [r.content_hash for r in new if r.annotations]
        if annotated:
            self.new_pair_ids.update(
                pairs.filter(content_hash__in=annotated).values_list("content_hash", "id")
            )


def _annotator_labels_store(dataset: Dataset, writer: _PairWriter) -> int:
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
        # One import at a time per dataset: the fast path below relies on the dataset staying
        # empty until this import commits.
        Dataset.objects.select_for_update().filter(pk=dataset.pk).first()
        writer: _PairWriter
        if connection.vendor == "postgresql":
            empty = not Pair.objects.filter(dataset=dataset).exists()
            writer = _CopyWriter(dataset, direct=empty)
        else:
            writer = _BatchWriter(dataset)
        writer.write(stream)
        # Raising here, inside the atomic block, rolls back every pair written so far.
        stream.raise_for_problems()
        writer.finish()
        annotations = _annotator_labels_store(dataset, writer)
        if annotations:
            Dataset.objects.filter(pk=dataset.pk).update(
                annotator_label_count=F("annotator_label_count") + annotations
            )
        summary = stream.summary
        result = ImportResult(
            created=writer.created,
            duplicates=summary.duplicates + writer.conflicts,
            skipped=sum(summary.skipped.values()),
            annotations=annotations,
            skipped_reasons=dict(summary.skipped),
        )
        audit_event_record(
            actor=actor,
            action="dataset.import",
            obj=dataset,
            after={
                "format": format,
                "file": (source_name or "")[-200:],
                "domain": domain or None,
                "seed": seed,
                "rows": summary.rows,
                **result.as_dict(),
            },
        )
    return result


# --- reference sets ---------------------------------------------------------------------------


def snapshot_content_hash(items: Iterable[tuple[str, str]]) -> str:
    """SHA-256 over the sorted (pair content hash, label) items of a snapshot.

    Two snapshots with the same pairs and labels hash the same whatever their order or ids.
    """
    digest = hashlib.sha256()
    for pair_hash, label in sorted(items):
        digest.update(f"{pair_hash}\t{label}\n".encode())
    return digest.hexdigest()


def _labels_of_dataset(dataset: Dataset) -> Labels:
    items: list[LabelledPair] = []
    unlabelled = 0
    rows = (
        Pair.objects.filter(dataset=dataset)
        .order_by("id")
        .values_list("id", "content_hash", "domain", "gold_label")
    )
    for pair_id, content_hash, domain, label in rows.iterator(chunk_size=5000):
        if label is None:
            unlabelled += 1
            continue
        items.append(LabelledPair(pair_id, content_hash, domain, label, ReferenceSource.IMPORTED))
    return Labels(
        kind="dataset",
        source_id=dataset.pk,
        description="imported labels",
        dataset=dataset,
        items=items,
        unlabelled=unlabelled,
    )


@transaction.atomic
def reference_set_create(
    *,
    actor: Any,
    project: Project,
    name: str,
    dataset: Dataset | None = None,
    source: tuple[str, int] | None = None,
    description: str = "",
) -> ReferenceSet:
    """Freeze a snapshot of (pair, gold label) named ``name`` in ``project``.

    Labels come from ``dataset`` (the gold labels its import carried) or from a registered
    ``source`` such as ``("queue", 12)``, an annotation queue's consensus and adjudications
    (:mod:`apps.datasets.label_sources`). Gold ``tie`` items are kept; pairs with no label are
    left out and counted in ``unlabelled_count``. Snapshots never change: each change of the
    labels under the same name makes the next ``version``; when the labels are exactly those of
    the latest version from the same source, that version is returned and nothing is written.
    """
    name = name.strip()
    if not name:
        raise ValidationError({"name": ["A reference set needs a name."]})
    if (dataset is None) == (source is None):
        raise ValidationError({"dataset": ["Give either a dataset or an annotation queue."]})
    if dataset is not None and dataset.project_id != project.pk:
        raise ValidationError({"dataset": ["No such dataset in this project."]})

    # Serialise snapshot creation per project so two requests cannot take the same version.
    Project.objects.select_for_update().filter(pk=project.pk).first()
    if source is not None:
        kind, pk = source
        labels = labels_from_source(kind=kind, project=project, pk=pk)
    else:
        assert dataset is not None
        labels = _labels_of_dataset(dataset)
    items, source_dataset = labels.items, labels.dataset
    if not items:
        raise ValidationError({labels.kind: ["No pair has a label to freeze."]})
    content_hash = snapshot_content_hash((item.content_hash, item.label) for item in items)

    latest = ReferenceSet.objects.filter(project=project, name=name).order_by("-version").first()
    if (
        latest is not None
        and latest.content_hash == content_hash
        and latest.dataset_id == source_dataset.pk
        and (latest.source_kind, latest.source_id) == (labels.kind, labels.source_id)
    ):
        return latest

    domain_counts = dict(sorted(Counter(item.domain for item in items).items()))
    reference_set = ReferenceSet.objects.create(
        project=project,
        name=name,
        version=(latest.version + 1) if latest is not None else 1,
        dataset=source_dataset,
        source_kind=labels.kind,
        source_id=labels.source_id,
        source_description=labels.description,
        description=description,
        item_count=len(items),
        domain_counts=domain_counts,
        content_hash=content_hash,
        unlabelled_count=labels.unlabelled,
        created_by=actor_or_none(actor),
    )
    for chunk in _chunks(items, BATCH_SIZE):
        ReferenceItem.objects.bulk_create(
            [
                ReferenceItem(
                    reference_set=reference_set,
                    pair_id=item.pair_id,
                    gold_label=item.label,
                    source=item.source,
                )
                for item in chunk
            ]
        )
    audit_event_record(
        actor=actor,
        action="reference_set.create",
        obj=reference_set,
        after={
            "name": name,
            "version": reference_set.version,
            "dataset": source_dataset.pk,
            "source": {"kind": labels.kind, "id": labels.source_id},
            "items": len(items),
            "unlabelled": labels.unlabelled,
            "ties": sum(1 for item in items if item.label == GoldLabel.TIE),
            "domain_counts": domain_counts,
            "content_hash": content_hash,
        },
    )
    return reference_set


def _chunks(items: list[LabelledPair], size: int) -> Iterator[list[LabelledPair]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
