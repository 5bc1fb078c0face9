"""Drift statistics between a baseline and a candidate judging run on one reference snapshot.

Pure and database-free: the caller hands over one row per pair (a :class:`PairedOutcomes`) and
gets back a JSON-ready dict (:func:`compute_drift_report`). Definitions follow
docs/judging-and-drift.md; where that document leaves a choice open, the choice is stated here.

Conventions
-----------
- Accuracies, deltas, rates and thresholds are proportions in 0..1 (a delta of -0.098 is shown as
  -9.8 points). ``delta`` is candidate minus baseline, so a drop is negative.
- Accuracy counts pairs whose gold label is ``A`` or ``B``: 1 when the verdict equals the gold
  label, 0.5 for a ``tie`` verdict, 0 otherwise (``invalid`` included). ``n`` is the number of such
  pairs; gold ``tie`` pairs are reported as ``n_gold_tie`` and ``n_pairs`` counts all pairs.
- A verdict is *right* when it equals the gold label (score 1). A ``tie`` verdict is not right, so a
  change between right and tie is a McNemar discordance.
- A *flip* is any change of verdict between the two runs, over all pairs (gold ties included: a
  change of what the judge prefers is a change whatever the reference says), so
  ``flip_rate = flips / n_pairs``. Changes to or from ``invalid`` are flips but carry no direction.
- Tie rate, invalid rate and position consistency of each run are shares of all pairs.

The package by concern: ``outcomes`` (the paired rows and verdict codes), ``intervals``
(Wilson, paired cluster bootstrap), ``significance`` (exact McNemar, sign test), ``sample_size``
(Connor 1987), ``family`` (the alert family: weighted Holm, Benjamini-Hochberg), ``flips`` (the
flip list and a flip's directions) and ``report`` (``compute_drift_report``).
"""

from apps.drift.flags import DriftThresholds
from apps.drift.stats.family import alert_family, family_weights, holm_adjust, weighted_holm
from apps.drift.stats.flips import flip_moves
from apps.drift.stats.intervals import INTERVAL_ALPHA, paired_cluster_bootstrap, wilson_interval
from apps.drift.stats.outcomes import DIRECTIONS, GOLD_LABELS, VERDICTS, PairedOutcomes
from apps.drift.stats.report import compute_drift_report
from apps.drift.stats.sample_size import (
    DEFAULT_POWER,
    connor_sample_size,
    minimum_detectable_drop,
)
from apps.drift.stats.significance import direction_test, mcnemar_exact_p, sign_test_p

__all__ = [
    "DEFAULT_POWER",
    "DIRECTIONS",
    "GOLD_LABELS",
    "INTERVAL_ALPHA",
    "VERDICTS",
    "DriftThresholds",
    "PairedOutcomes",
    "alert_family",
    "compute_drift_report",
    "connor_sample_size",
    "direction_test",
    "family_weights",
    "flip_moves",
    "holm_adjust",
    "mcnemar_exact_p",
    "minimum_detectable_drop",
    "paired_cluster_bootstrap",
    "sign_test_p",
    "weighted_holm",
    "wilson_interval",
]
