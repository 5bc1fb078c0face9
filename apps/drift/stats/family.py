"""The alert family: every test that can open an alert adjusted together (weighted Holm), and
Benjamini-Hochberg q-values across domains."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.stats import false_discovery_control

from apps.drift.flags import ACCURACY_SHARE, DIRECTION_SHARE, DriftThresholds
from apps.drift.stats.outcomes import DIRECTIONS


def holm_adjust(p_values: ArrayLike) -> NDArray[np.float64]:
    """Holm step-down adjusted p-values, in the order given (:func:`weighted_holm`, equal weights).

    The tests compare it with statsmodels' ``multipletests(method="holm")``, which is not called
    here because it runs a full ``gc.collect()`` on every Holm call (a tenth of a second or more
    in a process with a large heap).
    """
    p = np.asarray(p_values, dtype=np.float64)
    return weighted_holm(p, np.ones_like(p))


def weighted_holm(p_values: ArrayLike, weights: ArrayLike) -> NDArray[np.float64]:
    """Holm's weighted step-down adjusted p-values (Holm 1979), along the last axis.

    A NaN p-value is a test that was not performed: it takes no weight and its adjusted p is NaN.
    The weights of the performed tests are normalised to sum to 1 in each row. Tests are taken in
    order of ``p / w``; the one at sorted position j gets ``max_{k<=j} min(1, p_k / w_k * W_k)``
    where ``W_k`` is the weight of the tests from position k on. Rejecting the tests whose
    adjusted p is below alpha controls the family-wise error rate at alpha under any dependence
    between the tests. With equal weights this is Holm's ordinary adjustment.

    Hand-written because neither statsmodels nor scipy offers a weighted Holm; leading axes let
    the simulation test adjust thousands of reports in one call.
    """
    p = np.asarray(p_values, dtype=np.float64)
    performed = ~np.isnan(p)
    w = np.where(performed, np.broadcast_to(np.asarray(weights, dtype=np.float64), p.shape), 0.0)
    if (w[performed] <= 0).any():
        raise ValueError("every performed test needs a positive weight")
    total = w.sum(axis=-1, keepdims=True)
    w = np.divide(w, total, out=np.zeros_like(w), where=total > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(performed, p / w, np.inf)
    order = np.argsort(ratio, axis=-1, kind="stable")
    ratio_sorted = np.take_along_axis(ratio, order, axis=-1)
    remaining = np.flip(np.cumsum(np.flip(np.take_along_axis(w, order, axis=-1), -1), -1), -1)
    # Tests not performed sort last (ratio inf), so the running maximum of the others ignores them.
    with np.errstate(invalid="ignore"):
        stepped = np.where(np.isfinite(ratio_sorted), np.minimum(1.0, ratio_sorted * remaining), 1)
    adjusted = np.empty_like(p)
    np.put_along_axis(adjusted, order, np.maximum.accumulate(stepped, axis=-1), axis=-1)
    adjusted[~performed] = np.nan
    return adjusted


def alert_family(
    overall: dict[str, Any],
    by_domain: dict[str, dict[str, Any]],
    thresholds: DriftThresholds,
) -> dict[str, Any]:
    """Adjust every test that can open an alert as one family, and record the result on each.

    The family: the accuracy test of the overall scope and of each domain (one-sided exact
    McNemar, ``p_drop``: only a drop can open an alert), and each direction sign test, overall and
    per domain, that has at least ``min_flips_for_direction`` informative flips (a test with
    fewer is never performed; whether it is depends only on how many flips there are, not on which
    way they went). Weighted Holm (:func:`weighted_holm`) at the guard's alpha: the accuracy
    tests share ``ACCURACY_SHARE`` of the weight equally, the direction tests the rest (all of
    it goes to one kind when the other has no test). The family-wise error rate, the chance that
    a report of an edit that changed nothing opens an alert, is then at most alpha.

    Writes ``p_holm`` (adjusted) and ``survived`` (adjusted p < alpha) on each scope (its
    accuracy test) and on each direction test (None on a test not performed), and returns
    ``{alpha, method, tests: [{test, domain, p, p_adjusted, weight, survived}]}``.
    """
    scopes: list[tuple[str | None, dict[str, Any]]] = [(None, overall)]
    scopes += [(domain, by_domain[domain]) for domain in sorted(by_domain)]
    members: list[tuple[str, str | None, dict[str, Any], float]] = []
    for domain, scope in scopes:
        scope["p_holm"], scope["survived"] = None, None
        if scope.get("p_drop") is not None:
            members.append(("accuracy", domain, scope, scope["p_drop"]))
    for domain, scope in scopes:
        for key in DIRECTIONS:
            test = scope["direction"][key]
            test["p_holm"], test["survived"] = None, None
            if test["p"] is not None and test["n"] >= thresholds.min_flips_for_direction:
                members.append((key, domain, test, test["p"]))

    weights = family_weights(np.array([kind == "accuracy" for kind, *_ in members], dtype=bool))
    raw = np.array([p for *_, p in members], dtype=np.float64)
    adjusted = weighted_holm(raw, weights) if members else raw
    tests = []
    for (kind, domain, target, p), p_adjusted, weight in zip(
        members, adjusted, weights, strict=True
    ):
        survived = bool(p_adjusted < thresholds.alpha)
        target["p_holm"], target["survived"] = float(p_adjusted), survived
        tests.append(
            {
                "test": kind,
                "domain": domain,
                "p": float(p),
                "p_adjusted": float(p_adjusted),
                "weight": float(weight),
                "survived": survived,
            }
        )
    return {
        "alpha": thresholds.alpha,
        "method": (
            f"weighted Holm: accuracy tests {ACCURACY_SHARE:g} of alpha, "
            f"direction tests {DIRECTION_SHARE:g}"
        ),
        "tests": tests,
    }


def family_weights(
    is_accuracy: NDArray[np.bool_], performed: NDArray[np.bool_] | None = None
) -> NDArray[np.float64]:
    """Weights of the alert family's tests along the last axis (see :func:`alert_family`).

    ``is_accuracy`` marks the accuracy tests among the family's columns; ``performed`` (same
    shape, or broadcastable; all by default) which tests a report performed. The performed
    accuracy tests share ``ACCURACY_SHARE`` equally and the performed direction tests the rest;
    a kind with no performed test leaves its share to the other. Tests not performed get 0.
    """
    accuracy = np.asarray(is_accuracy, dtype=bool)
    done = np.ones(accuracy.shape, dtype=bool) if performed is None else performed
    done = np.broadcast_to(done, np.broadcast_shapes(np.shape(done), accuracy.shape))
    accuracy = np.broadcast_to(accuracy, done.shape)
    n_accuracy = (done & accuracy).sum(axis=-1, keepdims=True)
    n_direction = (done & ~accuracy).sum(axis=-1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(accuracy, ACCURACY_SHARE / n_accuracy, DIRECTION_SHARE / n_direction)
    raw = np.where(done, share, 0.0)
    total = raw.sum(axis=-1, keepdims=True)
    weights: NDArray[np.float64] = np.divide(raw, total, out=np.zeros(raw.shape), where=total > 0)
    return weights


def adjust_bh(scopes: list[dict[str, Any]]) -> None:
    """Benjamini-Hochberg q-values of the domains' two-sided McNemar p, written back in place."""
    tested = [scope for scope in scopes if scope.get("mcnemar_p") is not None]
    if not tested:
        return
    q_values = false_discovery_control([scope["mcnemar_p"] for scope in tested], method="bh")
    for scope, q_bh in zip(tested, q_values, strict=True):
        scope["q_bh"] = float(q_bh)
