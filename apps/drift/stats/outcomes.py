"""One row per pair judged by both runs (``PairedOutcomes``) and the verdict codes the other
modules of the package compute with."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

VERDICTS: tuple[str, ...] = ("A", "B", "tie", "invalid")
GOLD_LABELS: tuple[str, ...] = ("A", "B", "tie")
# Each label's code is its index in VERDICTS (and GOLD_LABELS).
TIE, INVALID = 2, 3

# Where each verdict sits on the scale from "B better" (-1) to "A better" (+1); invalid has no
# place and is masked out wherever this is used.
POSITION = np.array([1, -1, 0, 0], dtype=np.int8)

DIRECTIONS: tuple[str, ...] = ("toward_longer", "toward_refusal", "toward_position_a")

# The columns of a PairedOutcomes: those every pair has, then those a caller may leave out.
REQUIRED_FIELDS: tuple[str, ...] = (
    "domain",
    "gold",
    "baseline",
    "candidate",
    "length_a",
    "length_b",
    "refuses_a",
    "refuses_b",
)
OPTIONAL_FIELDS: tuple[str, ...] = (
    "cluster",
    "pair_id",
    "baseline_consistent",
    "candidate_consistent",
    "repeat_baseline",
)


def _encode(values: ArrayLike, allowed: Sequence[str], what: str) -> NDArray[np.int8]:
    """Labels as small integer codes (index in ``allowed``); unknown labels are an error."""
    arr = np.asarray(values, dtype=str)
    if arr.ndim != 1:
        raise ValueError(f"{what} must be one-dimensional")
    uniq, inverse = np.unique(arr, return_inverse=True)
    lookup = {label: i for i, label in enumerate(allowed)}
    unknown = [str(u) for u in uniq if str(u) not in lookup]
    if unknown:
        raise ValueError(f"{what}: unknown label(s) {unknown[:5]}; expected one of {list(allowed)}")
    codes = np.array([lookup[str(u)] for u in uniq], dtype=np.int8)
    return codes[inverse.reshape(-1)]


@dataclass(frozen=True, eq=False)
class PairedOutcomes:
    """One row per pair judged by both runs on the same reference snapshot.

    Arrays of equal length (:meth:`from_lists` and :meth:`from_records` build it from plain
    Python data):

    - ``domain``: the pair's domain key; ``gold``: ``A``, ``B`` or ``tie``;
    - ``baseline`` / ``candidate``: each run's pair verdict, ``A``, ``B``, ``tie`` or ``invalid``;
    - ``length_a`` / ``length_b``: lengths of the two responses (any unit, the same for both);
    - ``refuses_a`` / ``refuses_b``: whether each response refuses;
    - ``cluster``: the prompt key (e.g. a prompt hash); pairs sharing a prompt are resampled
      together. None makes every pair its own cluster;
    - ``pair_id``: optional ids carried into the flip list;
    - ``baseline_consistent`` / ``candidate_consistent``: optional, whether each run's two orders
      agreed on the pair (position consistency);
    - ``repeat_baseline``: optional verdicts of the baseline rubric judged a second time, for the
      noise floor.
    """

    domain: NDArray[np.str_]
    gold: NDArray[np.str_]
    baseline: NDArray[np.str_]
    candidate: NDArray[np.str_]
    length_a: NDArray[np.float64]
    length_b: NDArray[np.float64]
    refuses_a: NDArray[np.bool_]
    refuses_b: NDArray[np.bool_]
    cluster: NDArray[np.str_] | None = None
    pair_id: NDArray[np.object_] | None = None
    baseline_consistent: NDArray[np.bool_] | None = None
    candidate_consistent: NDArray[np.bool_] | None = None
    repeat_baseline: NDArray[np.str_] | None = None

    gold_code: NDArray[np.int8] = field(init=False, repr=False)
    baseline_code: NDArray[np.int8] = field(init=False, repr=False)
    candidate_code: NDArray[np.int8] = field(init=False, repr=False)
    repeat_code: NDArray[np.int8] | None = field(init=False, repr=False)

    def __post_init__(self) -> None:
        # Frozen dataclass: coercion has to go through object.__setattr__.
        def put(name: str, value: Any) -> None:
            object.__setattr__(self, name, value)

        put("domain", np.asarray(self.domain, dtype=str))
        n = self.domain.shape[0]
        for name in ("gold", "baseline", "candidate"):
            put(name, np.asarray(getattr(self, name), dtype=str))
        for name in ("length_a", "length_b"):
            put(name, np.asarray(getattr(self, name), dtype=np.float64))
        for name in ("refuses_a", "refuses_b"):
            put(name, np.asarray(getattr(self, name), dtype=bool))
        if self.cluster is None:
            put("cluster", np.arange(n).astype(str))
        else:
            put("cluster", np.asarray(self.cluster).astype(str))
        if self.pair_id is not None:
            put("pair_id", np.asarray(self.pair_id, dtype=object))
        for name in ("baseline_consistent", "candidate_consistent"):
            if getattr(self, name) is not None:
                put(name, np.asarray(getattr(self, name), dtype=bool))
        if self.repeat_baseline is not None:
            put("repeat_baseline", np.asarray(self.repeat_baseline, dtype=str))

        for name in (*REQUIRED_FIELDS[1:], *OPTIONAL_FIELDS):
            value = getattr(self, name)
            if value is not None and value.shape != (n,):
                raise ValueError(f"{name} has shape {value.shape}, expected ({n},) like domain")
        if not (np.isfinite(self.length_a).all() and np.isfinite(self.length_b).all()):
            raise ValueError("length_a and length_b must be finite numbers")

        put("gold_code", _encode(self.gold, GOLD_LABELS, "gold"))
        put("baseline_code", _encode(self.baseline, VERDICTS, "baseline"))
        put("candidate_code", _encode(self.candidate, VERDICTS, "candidate"))
        put(
            "repeat_code",
            None
            if self.repeat_baseline is None
            else _encode(self.repeat_baseline, VERDICTS, "repeat_baseline"),
        )

    def __len__(self) -> int:
        return int(self.domain.shape[0])

    @classmethod
    def from_lists(
        cls,
        *,
        domain: ArrayLike,
        gold: ArrayLike,
        baseline: ArrayLike,
        candidate: ArrayLike,
        length_a: ArrayLike,
        length_b: ArrayLike,
        refuses_a: ArrayLike,
        refuses_b: ArrayLike,
        cluster: ArrayLike | None = None,
        pair_id: ArrayLike | None = None,
        baseline_consistent: ArrayLike | None = None,
        candidate_consistent: ArrayLike | None = None,
        repeat_baseline: ArrayLike | None = None,
    ) -> PairedOutcomes:
        """Build from plain sequences (lists, tuples or arrays), one entry per pair."""

        def optional(values: ArrayLike | None, dtype: Any) -> Any:
            return None if values is None else np.asarray(values, dtype=dtype)

        return cls(
            domain=np.asarray(domain, dtype=str),
            gold=np.asarray(gold, dtype=str),
            baseline=np.asarray(baseline, dtype=str),
            candidate=np.asarray(candidate, dtype=str),
            length_a=np.asarray(length_a, dtype=np.float64),
            length_b=np.asarray(length_b, dtype=np.float64),
            refuses_a=np.asarray(refuses_a, dtype=bool),
            refuses_b=np.asarray(refuses_b, dtype=bool),
            cluster=None if cluster is None else np.asarray(cluster).astype(str),
            pair_id=optional(pair_id, object),
            baseline_consistent=optional(baseline_consistent, bool),
            candidate_consistent=optional(candidate_consistent, bool),
            repeat_baseline=optional(repeat_baseline, str),
        )

    @classmethod
    def from_records(cls, records: Iterable[Mapping[str, Any]]) -> PairedOutcomes:
        """Build from one mapping per pair, keyed by the field names of this class.

        ``domain``, ``gold``, ``baseline``, ``candidate``, the lengths and the refusal flags are
        required; the optional fields are used only when every record has them.
        """
        rows = list(records)
        columns: dict[str, Any] = {key: [row[key] for row in rows] for key in REQUIRED_FIELDS}
        for key in OPTIONAL_FIELDS:
            if rows and all(row.get(key) is not None for row in rows):
                columns[key] = [row[key] for row in rows]
        return cls.from_lists(**columns)
