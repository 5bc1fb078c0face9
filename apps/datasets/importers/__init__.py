"""Pair importers: one module per file format, all behind :class:`PairImporter`.

Every importer streams (a line or a 64 KiB chunk at a time, gzip detected by its magic bytes),
validates as it goes, and reports the first problems with their line numbers and fields; the
import service writes the records in one transaction and rolls it back on any problem. See
:mod:`apps.datasets.importers.base` for the shared rules and each format's module for its fields.
"""

from __future__ import annotations

from typing import IO

from apps.datasets.importers.base import (
    DEFAULT_DOMAIN,
    LABELS,
    ImportFailed,
    ImportOptions,
    Label,
    PairImporter,
    PairRecord,
    PairStream,
    ParseSummary,
)
from apps.datasets.importers.csv_format import CsvImporter
from apps.datasets.importers.hh_rlhf import HhRlhfImporter
from apps.datasets.importers.jsonl import JsonlImporter
from apps.datasets.importers.llmeval2 import LlmEval2Importer
from apps.datasets.importers.pandalm import PandaLmImporter
from apps.datasets.importers.reading import ImportProblem

IMPORTERS: dict[str, type[PairImporter]] = {
    importer.format: importer
    for importer in (
        JsonlImporter,
        CsvImporter,
        HhRlhfImporter,
        PandaLmImporter,
        LlmEval2Importer,
    )
}
FORMATS: tuple[str, ...] = tuple(IMPORTERS)


def get_importer(format_name: str, options: ImportOptions | None = None) -> PairImporter:
    """The importer for ``format_name`` (one of :data:`FORMATS`); ValueError for others."""
    try:
        importer_class = IMPORTERS[format_name]
    except KeyError:
        raise ValueError(
            f"unknown import format {format_name!r}; the formats are {', '.join(FORMATS)}"
        ) from None
    return importer_class(options)


def parse_pairs(
    fileobj: IO[bytes], format_name: str, options: ImportOptions | None = None
) -> PairStream:
    """Stream the pairs of a binary file object in the given format."""
    return get_importer(format_name, options).parse(fileobj)


__all__ = [
    "DEFAULT_DOMAIN",
    "FORMATS",
    "LABELS",
    "ImportFailed",
    "ImportOptions",
    "ImportProblem",
    "Label",
    "PairImporter",
    "PairRecord",
    "PairStream",
    "ParseSummary",
    "get_importer",
    "parse_pairs",
]
