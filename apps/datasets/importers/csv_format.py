"""CSV: a header row, then one pair a row (comma separated, RFC 4180 quoting).

Columns, with the default names (``ImportOptions.field_map`` renames them; see
:mod:`apps.datasets.importers.mapping` for the full table)::

    prompt,response_a,response_b,label,domain,id
    "What is 2+2?","4","5",A,math,q-1

``prompt``, ``response_a`` and ``response_b`` are required columns with non-empty cells;
``label``, ``domain`` and ``id`` are optional columns whose cells may be empty; other columns go
to ``metadata`` as strings. Quoted cells may span lines (CRLF inside a cell becomes LF); the
reported line is the line the row starts on. The file may be gzip-compressed.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from typing import IO, Any

from apps.datasets.importers.base import ImportOptions, PairImporter, PairRecord, Skipped
from apps.datasets.importers.mapping import mapped_record, resolve_field_map
from apps.datasets.importers.reading import ProblemLog, iter_lines

REQUIRED = ("prompt", "response_a", "response_b")


class CsvImporter(PairImporter):
    """Pairs from a CSV file with a header row and a configurable column mapping."""

    format = "csv"

    def __init__(self, options: ImportOptions | None = None) -> None:
        super().__init__(options)
        self.fields = resolve_field_map(self.options.field_map)
        # The csv module's cell limit (128 KiB by default) is process-wide; it is only ever
        # raised, so that over-long cells reach the per-field check and get a clear message.
        if csv.field_size_limit() < self.options.max_line_bytes:
            csv.field_size_limit(self.options.max_line_bytes)

    def rows(self, stream: IO[bytes], log: ProblemLog) -> Iterator[tuple[int, Any]]:
        """Each data row as a ``{column: cell}`` dict, with the line it starts on."""
        lines = _LineTracker(iter_lines(stream, log, max_line_bytes=self.options.max_line_bytes))
        reader = csv.reader(lines, strict=True)
        header: list[str] | None = None
        previous_end = 0
        while not log.full:
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                log.add(lines.line, None, f"malformed CSV: {exc}")
                return
            start, previous_end = previous_end + 1, lines.line
            if not cells or (len(cells) == 1 and not cells[0].strip()):
                continue  # blank line
            if header is None:
                header = [name.strip() for name in cells]
                if not self._header_ok(header, start, log):
                    return
                continue
            if len(cells) != len(header):
                log.add(
                    start,
                    None,
                    f"the row has {len(cells)} columns; the header has {len(header)}",
                )
                continue
            yield (
                start,
                {
                    name: cell.replace("\r\n", "\n")
                    for name, cell in zip(header, cells, strict=True)
                },
            )

    def _header_ok(self, header: list[str], line: int, log: ProblemLog) -> bool:
        ok = True
        for name in sorted({name for name in header if header.count(name) > 1}):
            log.add(line, name, f"column {name} appears more than once in the header")
            ok = False
        for target in REQUIRED:
            name = self.fields[target]
            if name not in header:
                shown = ", ".join(header)
                log.add(line, name, f"column {name} is missing; the header has: {shown}")
                ok = False
        return ok

    def record(self, line: int, row: Any) -> PairRecord | Skipped:
        """Map the row's cells to a pair."""
        return mapped_record(line, row, self.fields, self.options)


class _LineTracker:
    """Feeds text lines to ``csv.reader`` and remembers the number of the last one given."""

    def __init__(self, lines: Iterator[tuple[int, str]]) -> None:
        self._lines = lines
        self.line = 0

    def __iter__(self) -> _LineTracker:
        return self

    def __next__(self) -> str:
        self.line, text = next(self._lines)
        return text
