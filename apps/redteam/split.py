"""Deterministic train / val / test split of reference pairs by prompt cluster.

Pure. Pairs that share a prompt form one cluster and always land in the same split, so the
search never learns from a prompt whose twin is in the held-out test split. Which split a
cluster takes depends only on the job's seed and the prompt's hash, so the same seed gives the
same split whatever order the pairs come in, and adding pairs never moves the others.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterable, Sequence
from typing import TypeVar

T = TypeVar("T")

SPLITS = ("train", "val", "test")
# Shares of clusters: half for the search, a quarter each for selection and the report.
SHARES = (0.5, 0.25, 0.25)


def prompt_cluster(prompt: str) -> str:
    """The cluster key of a prompt: the hash of its whitespace-normalised text."""
    return hashlib.sha256(" ".join(prompt.split()).encode("utf-8")).hexdigest()


def split_of(cluster: str, seed: int) -> str:
    """The split of a cluster under ``seed``: a uniform draw from hash(seed, cluster)."""
    digest = hashlib.sha256(f"{seed}:{cluster}".encode()).digest()
    u = int.from_bytes(digest[:8], "big") / 2**64
    edge = 0.0
    for name, share in zip(SPLITS, SHARES, strict=True):
        edge += share
        if u < edge:
            return name
    return SPLITS[-1]


def split_pairs(pairs: Iterable[tuple[T, str]], seed: int) -> dict[str, list[T]]:
    """``(item, prompt)`` rows grouped by split, each list in input order."""
    out: dict[str, list[T]] = {name: [] for name in SPLITS}
    for item, prompt in pairs:
        out[split_of(prompt_cluster(prompt), seed)].append(item)
    return out


def sample(items: Sequence[T], size: int, seed: int, generation: int, label: str) -> list[T]:
    """A seeded sample of ``size`` items (all of them when fewer), fresh for each generation.

    ``random.Random`` seeded with a string is stable across processes and Python versions
    (unlike ``hash``), so a resumed job draws exactly the sample it drew before.
    """
    if size >= len(items):
        return list(items)
    rng = random.Random(f"{seed}:{generation}:{label}")  # noqa: S311 - sampling, not security
    return rng.sample(list(items), size)
