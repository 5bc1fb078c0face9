"""Streaming readers shared by the pair importers.

Everything here works on a binary file object and reads it in bounded pieces: a line at a time
(JSON Lines, CSV) or a 64 KiB chunk at a time (a JSON array), so a file is never held in memory
whole. Gzip is detected by its magic bytes, so any format may arrive compressed. Text is decoded
as strict UTF-8; a UTF-8 byte order mark is dropped and CRLF line ends are accepted.

Problems (invalid UTF-8, a truncated gzip stream, broken JSON framing) are written to a
:class:`ProblemLog` with the line they were found on; the readers never raise for bad input.
"""

from __future__ import annotations

import gzip
import io
import json
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO, Any

GZIP_MAGIC = b"\x1f\x8b"
UTF8_BOM = b"\xef\xbb\xbf"
UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
CHUNK_BYTES = 1 << 16

# The errors a gzip stream raises when it is cut short or damaged.
GZIP_ERRORS = (EOFError, gzip.BadGzipFile, zlib.error)

_NON_WHITESPACE = re.compile(r"[^ \t\n\r]")


@dataclass(frozen=True)
class ImportProblem:
    """One problem found in an import file: where (line, field) and what, in plain words.

    ``line`` is the 1-based line of the file (of the record's first line for records that span
    lines); ``None`` for problems about the file as a whole, such as an empty file.
    ``field`` is the source field or column name, ``None`` when the problem is not about one.
    """

    line: int | None
    field: str | None
    message: str

    def as_dict(self) -> dict[str, Any]:
        """The problem as the API reports it: ``{line, field, message}``."""
        return {"line": self.line, "field": self.field, "message": self.message}

    def __str__(self) -> str:
        where = f"line {self.line}" if self.line is not None else "file"
        if self.field:
            where += f", field {self.field}"
        return f"{where}: {self.message}"


@dataclass
class ProblemLog:
    """Collects problems up to ``limit``; parsing stops once it is full."""

    limit: int = 20
    problems: list[ImportProblem] = field(default_factory=list)

    def add(self, line: int | None, field_name: str | None, message: str) -> None:
        """Record a problem (silently ignored once the log is full)."""
        if len(self.problems) < self.limit:
            self.problems.append(ImportProblem(line, field_name, message))

    @property
    def full(self) -> bool:
        """True once ``limit`` problems are recorded: there may be more that were not looked for."""
        return len(self.problems) >= self.limit

    def __bool__(self) -> bool:
        return bool(self.problems)


class _Rewound(io.RawIOBase):
    """A raw stream that replays a few already-read bytes, then reads on from the source.

    Sniffing the gzip magic needs the first bytes of a stream that may not be seekable (a pipe,
    an upload proxy); this puts them back without reading the rest.
    """

    def __init__(self, head: bytes, source: IO[bytes]) -> None:
        super().__init__()
        self._head = head
        self._source = source

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        if self._head:
            n = min(len(view), len(self._head))
            view[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        data = self._source.read(len(view))
        if not data:
            return 0
        view[: len(data)] = data
        return len(data)


def open_binary(fileobj: IO[bytes]) -> IO[bytes]:
    """Wrap ``fileobj`` for buffered reading, decompressing it when it starts with gzip magic.

    The caller's file object is neither closed nor read past what the import needs.
    """
    head = fileobj.read(len(GZIP_MAGIC))
    if isinstance(head, str):
        raise TypeError("the import file must be opened in binary mode")
    buffered = io.BufferedReader(_Rewound(head, fileobj), buffer_size=CHUNK_BYTES)
    if head == GZIP_MAGIC:
        return gzip.GzipFile(fileobj=buffered, mode="rb")  # type: ignore[return-value]
    return buffered


def _gzip_message(exc: BaseException) -> str:
    return f"the gzip data is truncated or corrupt ({exc})"


def _encoding_problem(first_bytes: bytes) -> str | None:
    if first_bytes.startswith(UTF16_BOMS):
        return "the file is UTF-16 encoded; save it as UTF-8"
    return None


def _utf8_message(exc: UnicodeDecodeError) -> str:
    bad = exc.object[exc.start : exc.start + 4]
    return f"invalid UTF-8 (byte {exc.start + 1} of the line, {bad!r}); save the file as UTF-8"


def iter_lines(
    stream: IO[bytes], log: ProblemLog, *, max_line_bytes: int
) -> Iterator[tuple[int, str]]:
    """Yield ``(line_number, text)`` for each line, newline kept, decoded as UTF-8.

    A line with invalid UTF-8 is logged and yielded with replacement characters, so the line
    structure (and CSV quoting) stays intact while later problems are still found. A line longer
    than ``max_line_bytes`` is logged and skipped without being held in memory.
    """
    line_no = 0
    while not log.full:
        try:
            raw = stream.readline(max_line_bytes + 1)
        except GZIP_ERRORS as exc:
            log.add(line_no + 1, None, _gzip_message(exc))
            return
        if not raw:
            return
        line_no += 1
        if line_no == 1:
            encoding_problem = _encoding_problem(raw)
            if encoding_problem:
                log.add(1, None, encoding_problem)
                return
            if raw.startswith(UTF8_BOM):
                raw = raw[len(UTF8_BOM) :]
        if len(raw) > max_line_bytes and not raw.endswith(b"\n"):
            log.add(line_no, None, f"the line is longer than {max_line_bytes:,} bytes")
            if not _skip_rest_of_line(stream, log, line_no):
                return
            continue
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            log.add(line_no, None, _utf8_message(exc))
            text = raw.decode("utf-8", errors="replace")
        yield line_no, text


def _skip_rest_of_line(stream: IO[bytes], log: ProblemLog, line_no: int) -> bool:
    """Read on to the end of an over-long line; False if the stream ended in an error."""
    while True:
        try:
            piece = stream.readline(CHUNK_BYTES)
        except GZIP_ERRORS as exc:
            log.add(line_no, None, _gzip_message(exc))
            return False
        if not piece or piece.endswith(b"\n"):
            return True


def _reject_constant(name: str) -> Any:
    # Python's json accepts NaN and Infinity, which are not JSON and which PostgreSQL's jsonb
    # refuses; refusing them here turns a late database error into a clear line-numbered one.
    raise ValueError(f"{name} is not valid JSON")


JSON_DECODER = json.JSONDecoder(parse_constant=_reject_constant)


def json_error_message(exc: ValueError) -> str:
    """Plain words for a JSON decoding error, without the decoder's absolute offsets."""
    if isinstance(exc, json.JSONDecodeError):
        return f"invalid JSON: {exc.msg} (column {exc.colno})"
    return f"invalid JSON: {exc}"


def iter_json_lines(
    stream: IO[bytes], log: ProblemLog, *, max_line_bytes: int
) -> Iterator[tuple[int, Any]]:
    """Yield ``(line_number, value)`` for each non-blank line of a JSON Lines stream."""
    for line_no, text in iter_lines(stream, log, max_line_bytes=max_line_bytes):
        if not text.strip():
            continue
        try:
            value = JSON_DECODER.decode(text)
        except ValueError as exc:
            log.add(line_no, None, json_error_message(exc))
            continue
        yield line_no, value


def iter_text_chunks(stream: IO[bytes], log: ProblemLog) -> Iterator[str]:
    """Decode a stream as UTF-8 in chunks, logging the line of the first invalid byte.

    A multi-byte character split across two chunks is carried over to the next one.
    """
    carry = b""
    lines_before = 0
    first = True
    while True:
        try:
            raw = stream.read(CHUNK_BYTES)
        except GZIP_ERRORS as exc:
            log.add(lines_before + carry.count(b"\n") + 1, None, _gzip_message(exc))
            return
        data = carry + raw
        carry = b""
        if first and data:
            first = False
            encoding_problem = _encoding_problem(data)
            if encoding_problem:
                log.add(1, None, encoding_problem)
                return
            if data.startswith(UTF8_BOM):
                data = data[len(UTF8_BOM) :]
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            incomplete_tail = exc.reason == "unexpected end of data" and raw
            if not incomplete_tail:
                line = lines_before + data.count(b"\n", 0, exc.start) + 1
                bad = data[exc.start : exc.start + 4]
                log.add(line, None, f"invalid UTF-8 ({bad!r}); save the file as UTF-8")
                return
            carry = data[exc.start :]
            text = data[: exc.start].decode("utf-8")
        if not raw and not text:
            return
        lines_before += text.count("\n")
        if text:
            yield text


class JsonArrayScanner:
    """Streams the elements of a top-level JSON array, one decoded element at a time.

    Elements are decoded with ``json.JSONDecoder.raw_decode`` over a sliding text buffer that
    never holds more than one element plus one chunk, so a large array is not loaded whole (the
    standard library has no incremental array parser; this avoids a dependency for ~100 lines).
    """

    def __init__(self, chunks: Iterator[str], log: ProblemLog, *, max_element_chars: int) -> None:
        self._chunks = chunks
        self._log = log
        self._max = max_element_chars
        self._buf = ""
        self._pos = 0
        self._line = 1  # line number at self._pos
        self._eof = False

    def _more(self) -> bool:
        if self._eof:
            return False
        # Drop the consumed prefix so the buffer holds only the element being decoded.
        self._buf = self._buf[self._pos :]
        self._pos = 0
        chunk = next(self._chunks, None)
        if chunk is None:
            self._eof = True
            return False
        self._buf += chunk
        return True

    def _advance(self, new_pos: int) -> None:
        self._line += self._buf.count("\n", self._pos, new_pos)
        self._pos = new_pos

    def _next_char(self) -> str | None:
        """Skip whitespace; the next character (not consumed), or None at the end of input."""
        while True:
            match = _NON_WHITESPACE.search(self._buf, self._pos)
            if match:
                self._advance(match.start())
                return self._buf[self._pos]
            self._advance(len(self._buf))
            if not self._more():
                return None

    def _decode_element(self) -> tuple[bool, Any]:
        while True:
            try:
                value, end = JSON_DECODER.raw_decode(self._buf, self._pos)
            except ValueError as exc:
                if len(self._buf) - self._pos <= self._max and self._more():
                    continue
                line = self._line
                if isinstance(exc, json.JSONDecodeError):
                    line += self._buf.count("\n", self._pos, exc.pos)
                if len(self._buf) - self._pos > self._max:
                    message = f"an array element is longer than {self._max:,} characters"
                elif isinstance(exc, json.JSONDecodeError):
                    # The decoder's column counts from the buffer start, not the line: leave it out.
                    message = f"invalid JSON: {exc.msg}"
                else:
                    message = json_error_message(exc)
                self._log.add(line, None, message)
                return False, None
            # A number at the very end of the buffer may continue in the next chunk.
            if end == len(self._buf) and not self._eof and self._more():
                continue
            self._advance(end)
            return True, value

    def __iter__(self) -> Iterator[tuple[int, Any]]:
        log = self._log
        char = self._next_char()
        if char is None:
            return  # an empty file; the caller reports it
        if char != "[":
            log.add(self._line, None, "expected a JSON array: the file must start with '['")
            return
        self._advance(self._pos + 1)
        first = True
        while not log.full:
            char = self._next_char()
            if char is None:
                log.add(self._line, None, "the JSON array is not closed: the file ends before ']'")
                return
            if char == "]":
                self._advance(self._pos + 1)
                if self._next_char() is not None:
                    log.add(self._line, None, "unexpected text after the closing ']'")
                return
            if not first:
                if char != ",":
                    log.add(self._line, None, "expected ',' or ']' after an array element")
                    return
                self._advance(self._pos + 1)
                char = self._next_char()
                if char is None or char == "]":
                    log.add(self._line, None, "expected an array element after ','")
                    return
            first = False
            start_line = self._line
            ok, value = self._decode_element()
            if not ok:
                return
            yield start_line, value
