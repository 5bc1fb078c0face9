"""The interface every pair importer implements, and the record it produces.

An importer turns a binary file object into a stream of :class:`PairRecord`. It is pure: no
database, no Django. The caller (the import service) copies the records into the database inside
one transaction as they stream, and at the end rolls the transaction back if the stream found any
problem, so an import is all or nothing::

    stream = get_importer("jsonl", ImportOptions(domain="code")).parse(fileobj)
    for record in stream:          # records stream while no problem has been seen
        copy.write_row(...)
    stream.raise_for_problems()    # ImportFailed -> roll back, HTTP 400 / CLI exit 1

Once a problem is found the stream yields no further record but keeps reading, to report up to
``max_problems`` problems (20) with their line numbers and fields in one go.

Rules shared by every format:

* Labels are ``A``, ``B`` or ``tie``; a pair without a label has ``gold_label`` ``None``.
* A pair whose two responses are the same text (after trimming) carries no preference: it is
  skipped and counted in ``summary.skipped["identical responses"]``, not imported.
* ``content_hash`` identifies a pair within a dataset (see :func:`pair_content_hash`); a second
  row with the hash of an earlier one is counted in ``summary.duplicates`` and not yielded (the
  first one wins, label included).
* Text must be storable: no NUL character and no unpaired surrogate (PostgreSQL refuses both).
* Domain: the row's own domain when the format has one, else the ``domain`` option, else the
  format's default (HH-RLHF infers it from the file name), else ``general``; at most 100
  characters.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import IO, Any, ClassVar, Literal

from apps.datasets.importers.identity import hash_normalised, normalise_text
from apps.datasets.importers.reading import (
    ImportProblem,
    ProblemLog,
    iter_json_lines,
    open_binary,
)

Label = Literal["A", "B", "tie"]
LABELS: tuple[Label, ...] = ("A", "B", "tie")
DEFAULT_DOMAIN = "general"
MAX_DOMAIN_CHARS = 100  # Pair.domain
MAX_EXTERNAL_ID_CHARS = 200  # Pair.external_id
IDENTICAL_RESPONSES = "identical responses"

_SURROGATE = re.compile("[\ud800-\udfff]")


@dataclass(frozen=True)
class ImportOptions:
    """How to read one file.

    ``field_map`` maps a target field (``prompt``, ``response_a``, ``response_b``, ``label``,
    ``domain``, ``id``) to the name of the source field or column that holds it, for the JSON
    Lines and CSV formats; unmapped targets are read from fields of their own name.
    ``seed`` drives the reproducible A/B coin flip of formats whose source has no positions.
    ``source_name`` is the uploaded file's name (HH-RLHF infers the domain from it).
    The limits bound memory and work: ``max_field_chars`` per text field, ``max_pairs`` rows per
    file, ``max_line_bytes`` per line (or per JSON array element), ``max_problems`` reported.
    """

    domain: str | None = None
    seed: int = 0
    field_map: Mapping[str, str] = field(default_factory=dict)
    source_name: str | None = None
    max_field_chars: int = 1_000_000
    max_pairs: int = 200_000
    max_line_bytes: int = 64 * 1024 * 1024
    max_problems: int = 20


@dataclass(frozen=True, slots=True)
class PairRecord:
    """One parsed, validated pair, ready to be written.

    ``line`` is where the pair starts in the source file. ``annotations`` holds
    ``(annotator_name, choice)`` labels that came with the pair (PandaLM's three annotators),
    to be stored as imported annotations.
    """

    line: int
    external_id: str
    prompt: str
    response_a: str
    response_b: str
    domain: str
    gold_label: Label | None
    metadata: dict[str, Any]
    content_hash: str
    annotations: tuple[tuple[str, Label], ...] = ()


@dataclass(frozen=True)
class Skipped:
    """A source row that is valid but deliberately not imported, with the reason."""

    reason: str


class RowInvalid(Exception):
    """Raised by an importer for a row with problems: ``(field, message)`` pairs."""

    def __init__(self, problems: list[tuple[str | None, str]]) -> None:
        super().__init__("; ".join(message for _, message in problems))
        self.problems = problems


class ImportFailed(Exception):
    """The file has problems; nothing may be imported. ``problems`` lists the first of them."""

    def __init__(self, problems: list[ImportProblem], *, truncated: bool = False) -> None:
        self.problems = problems
        self.truncated = truncated
        head = "; ".join(str(problem) for problem in problems[:3])
        more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
        super().__init__(f"the file cannot be imported: {head}{more}")

    def as_dicts(self) -> list[dict[str, Any]]:
        """The problems as the API's ``errors`` list: ``[{line, field, message}, ...]``."""
        return [problem.as_dict() for problem in self.problems]


def json_type_name(value: Any) -> str:
    """How a JSON reader would name the type of ``value``."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return "a string"


def storable_problem(value: Any) -> str | None:
    """Why ``value`` (a string, or JSON made of them) cannot be stored, or None if it can."""
    if isinstance(value, str):
        if "\x00" in value:
            return "contains a NUL character, which cannot be stored"
        # isascii() is a C-speed scan; only non-ASCII text can hold a surrogate.
        if not value.isascii() and _SURROGATE.search(value):
            return "contains an unpaired UTF-16 surrogate escape, which cannot be stored"
        return None
    if isinstance(value, dict):
        for key, item in value.items():
            problem = storable_problem(key) or storable_problem(item)
            if problem:
                return problem
    elif isinstance(value, list):
        for item in value:
            problem = storable_problem(item)
            if problem:
                return problem
    return None


class RowReader:
    """Reads and checks the fields of one source row, collecting every problem it finds."""

    def __init__(self, row: Mapping[str, Any], options: ImportOptions) -> None:
        self.row = row
        self.options = options
        self.problems: list[tuple[str | None, str]] = []

    def fail(self, field_name: str | None, message: str) -> None:
        """Record a problem with this row."""
        self.problems.append((field_name, message))

    def check(self) -> None:
        """Raise :class:`RowInvalid` if any problem was recorded."""
        if self.problems:
            raise RowInvalid(self.problems)

    def text(
        self,
        name: str,
        *,
        required: bool = True,
        allow_empty: bool = False,
        scalars_as_text: bool = False,
    ) -> str:
        """The string in field ``name`` (``""`` when absent and not required, or on a problem).

        ``scalars_as_text`` accepts a JSON number or boolean and keeps its JSON spelling, for
        sources that are known to hold such values where text belongs.
        """
        if name not in self.row or self.row[name] is None:
            if required:
                state = "missing" if name not in self.row else "null"
                self.fail(name, f"field {name} is {state}")
            return ""
        value = self.row[name]
        if not isinstance(value, str):
            if scalars_as_text and isinstance(value, bool | int | float):
                value = ("true" if value else "false") if isinstance(value, bool) else str(value)
            else:
                self.fail(name, f"field {name} must be a string, not {json_type_name(value)}")
                return ""
        return self.checked(name, value, allow_empty=allow_empty or not required)

    def checked(self, name: str, value: str, *, allow_empty: bool = False) -> str:
        """Apply the emptiness, length and storability checks to a text taken from ``name``."""
        if not allow_empty and not value.strip():
            self.fail(name, f"field {name} is empty")
            return ""
        limit = self.options.max_field_chars
        if len(value) > limit:
            self.fail(name, f"field {name} is {len(value):,} characters; the limit is {limit:,}")
            return ""
        problem = storable_problem(value)
        if problem:
            self.fail(name, f"field {name} {problem}")
            return ""
        return value

    def label(
        self, name: str, value: Any, mapping: Mapping[str, Label], expected: str
    ) -> Label | None:
        """Map a source label to ``A``/``B``/``tie`` (``None`` for an absent or empty label).

        ``mapping`` is keyed by lower-case source values; ``expected`` names them for the error.
        """
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        if isinstance(value, str) and value.strip().lower() in mapping:
            return mapping[value.strip().lower()]
        shown = repr(value) if isinstance(value, str) else json_type_name(value)
        self.fail(name, f"field {name} is {shown}; expected {expected}")
        return None

    def domain(
        self, value: str | None, default: str | None = None, *, field_name: str = "domain"
    ) -> str:
        """The pair's domain: the row's, else the option, else the format default, else general."""
        for candidate in (value, self.options.domain, default):
            if candidate is not None and candidate.strip():
                domain = candidate.strip()
                break
        else:
            domain = DEFAULT_DOMAIN
        if len(domain) > MAX_DOMAIN_CHARS:
            self.fail(
                field_name,
                f"the domain is {len(domain)} characters; the limit is {MAX_DOMAIN_CHARS}",
            )
        return domain

    def metadata(self, metadata: dict[str, Any]) -> dict[str, Any]:
        """Check that metadata can be stored as JSON (no NUL, no unpaired surrogate)."""
        problem = storable_problem(metadata)
        if problem:
            self.fail(None, f"metadata {problem}")
        return metadata


def make_record(
    reader: RowReader,
    *,
    line: int,
    prompt: str,
    response_a: str,
    response_b: str,
    domain: str,
    gold_label: Label | None,
    metadata: dict[str, Any],
    native_id: str | None = None,
    id_field: str = "id",
    annotations: tuple[tuple[str, Label], ...] = (),
    positions_from_source: bool = True,
) -> PairRecord | Skipped:
    """Finish a row: raise for its problems, skip identical responses, hash, build the record.

    ``positions_from_source`` is False when the importer placed the responses itself (see
    :func:`pair_content_hash`).
    """
    if native_id is not None and len(native_id) > MAX_EXTERNAL_ID_CHARS:
        reader.fail(
            id_field,
            f"the id is {len(native_id)} characters; the limit is {MAX_EXTERNAL_ID_CHARS}",
        )
    reader.check()
    normal_a, normal_b = normalise_text(response_a), normalise_text(response_b)
    if normal_a == normal_b:
        return Skipped(IDENTICAL_RESPONSES)
    content_hash = hash_normalised(
        normalise_text(prompt),
        normal_a,
        normal_b,
        normalise_text(domain),
        native_id,
        ordered=positions_from_source,
    )
    return PairRecord(
        line=line,
        external_id=native_id if native_id is not None else f"line-{line}",
        prompt=prompt,
        response_a=response_a,
        response_b=response_b,
        domain=domain,
        gold_label=gold_label,
        metadata=metadata,
        content_hash=content_hash,
        annotations=annotations,
    )


@dataclass
class ParseSummary:
    """Counts of one parse: rows read, records yielded, duplicates and skips by reason."""

    rows: int = 0
    records: int = 0
    duplicates: int = 0
    skipped: Counter[str] = field(default_factory=Counter)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready counts."""
        return {
            "rows": self.rows,
            "records": self.records,
            "duplicates": self.duplicates,
            "skipped": dict(self.skipped),
        }


class PairStream(Iterator[PairRecord]):
    """The records of one file, produced lazily; single use.

    Iterate it to get the records; afterwards ``problems`` tells whether the import may be
    committed (empty) or must be rolled back. ``summary`` holds the counts.
    """

    def __init__(self, importer: PairImporter, fileobj: IO[bytes]) -> None:
        self.importer = importer
        self.summary = ParseSummary()
        self._log = ProblemLog(limit=importer.options.max_problems)
        self._fileobj = fileobj
        self._records = self._run()
        self.finished = False

    @property
    def problems(self) -> list[ImportProblem]:
        """The problems found so far (all of them, up to the limit, once iteration ended)."""
        return self._log.problems

    @property
    def truncated(self) -> bool:
        """True when the problem limit was reached, so more problems may exist."""
        return self._log.full

    def __iter__(self) -> PairStream:
        return self

    def __next__(self) -> PairRecord:
        return next(self._records)

    def raise_for_problems(self) -> None:
        """Finish reading the file, then raise :class:`ImportFailed` if it had any problem."""
        for _ in self._records:
            pass
        if self._log.problems:
            raise ImportFailed(self._log.problems, truncated=self._log.full)

    def _run(self) -> Iterator[PairRecord]:
        log = self._log
        summary = self.summary
        max_pairs = self.importer.options.max_pairs
        seen: set[str] = set()
        source = open_binary(self._fileobj)
        for line, row in self.importer.rows(source, log):
            summary.rows += 1
            if summary.rows > max_pairs:
                log.add(line, None, f"the file holds more than {max_pairs:,} pairs, the limit")
                break
            try:
                outcome = self.importer.record(line, row)
            except RowInvalid as exc:
                for field_name, message in exc.problems:
                    log.add(line, field_name, message)
                if log.full:
                    break
                continue
            if isinstance(outcome, Skipped):
                summary.skipped[outcome.reason] += 1
                continue
            if outcome.content_hash in seen:
                summary.duplicates += 1
                continue
            seen.add(outcome.content_hash)
            if log:
                continue  # nothing is yielded once a problem is known; reading goes on
            summary.records += 1
            yield outcome
        if not log:
            if summary.rows == 0:
                log.add(None, None, "the file is empty: it holds no pairs")
            elif summary.records == 0:
                log.add(None, None, f"no pair to import: all {summary.rows:,} rows were skipped")
        self.finished = True


class PairImporter(ABC):
    """One file format. Subclasses read rows (:meth:`rows`) and turn a row into a record."""

    format: ClassVar[str]

    def __init__(self, options: ImportOptions | None = None) -> None:
        self.options = options or ImportOptions()

    def parse(self, fileobj: IO[bytes]) -> PairStream:
        """Stream the pairs of ``fileobj`` (binary, plain or gzip)."""
        return PairStream(self, fileobj)

    def parse_all(self, fileobj: IO[bytes]) -> list[PairRecord]:
        """All records of a file, or :class:`ImportFailed`; for small files and tests."""
        stream = self.parse(fileobj)
        records = list(stream)
        stream.raise_for_problems()
        return records

    @abstractmethod
    def rows(self, stream: IO[bytes], log: ProblemLog) -> Iterator[tuple[int, Any]]:
        """Yield ``(line, row)`` for each source row; framing problems go to ``log``."""

    @abstractmethod
    def record(self, line: int, row: Any) -> PairRecord | Skipped:
        """Turn one row into a record or a skip, or raise :class:`RowInvalid`."""


class JsonLinesImporter(PairImporter):
    """An importer of JSON Lines: one JSON value per non-blank line."""

    def rows(self, stream: IO[bytes], log: ProblemLog) -> Iterator[tuple[int, Any]]:
        """Each non-blank line, decoded as JSON."""
        return iter_json_lines(stream, log, max_line_bytes=self.options.max_line_bytes)


def require_object(row: Any, what: str = "a JSON object") -> Mapping[str, Any]:
    """``row`` if it is a JSON object, else :class:`RowInvalid` naming what it is."""
    if not isinstance(row, dict):
        raise RowInvalid([(None, f"expected {what}, got {json_type_name(row)}")])
    return row
