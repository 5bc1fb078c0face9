"""Reads of the judging app: run progress, per-pair verdicts, accuracy, failures, cost estimates.

Everything here reads whole runs with a fixed number of ``values()`` queries (never one query
per pair), so a run of tens of thousands of pairs is read in well under a second.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.core.cache import cache
from django.db.models import QuerySet
from django.db.models.functions import Length, Substr
from django.utils import timezone

from apps.accounts.models import Project
from apps.core import liveness
from apps.datasets.models import Dataset, Pair, ReferenceItem, ReferenceSet
from apps.judging.accounting import cache_key, judge_fingerprint, token_cost
from apps.judging.backends.offline import REFUSAL_WINDOW, is_refusal
from apps.judging.models import (
    ACTIVE_RUN_STATUSES,
    Backend,
    JudgeConfig,
    JudgingRun,
    Judgment,
    JudgmentStatus,
    RunStatus,
)
from apps.judging.options import judge_options, max_tokens
from apps.judging.prompting import estimate_messages_tokens, render_messages
from apps.judging.protocol import accuracy_summary, aggregate_pair, score
from apps.judging.routing import chunk_queue_for
from apps.judging.types import Mode, PairText
from apps.rubrics.models import RubricVersion

# Pairs whose prompts are rendered to estimate a run's input tokens (the rest are scaled).
ESTIMATE_SAMPLE = 400


# --- lists ------------------------------------------------------------------------------------


def runs_for_project(*, project: Project) -> QuerySet[JudgingRun]:
    """The project's runs, newest first, with what a list shows."""
    return JudgingRun.objects.filter(project=project).select_related(
        "rubric_version__rubric", "judge", "reference_set", "dataset"
    )


def judges_for_project(*, project: Project) -> QuerySet[JudgeConfig]:
    """The project's judge configs, by name."""
    return JudgeConfig.objects.filter(project=project).order_by("name")


# --- progress ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunProgress:
    """Where a run stands: counts, percentage, throughput and the time left."""

    total: int
    done: int
    failed: int
    cached: int
    finished: int
    percent: float
    elapsed_s: float | None
    throughput: float | None  # judgments per second since the run started
    eta_s: float | None
    is_finished: bool


def run_progress(run: JudgingRun) -> RunProgress:
    """Progress of ``run`` from the counters on its row."""
    finished = run.done + run.failed
    percent = 100.0 * finished / run.total if run.total else 0.0
    elapsed = throughput = eta = None
    if run.started_at is not None:
        end = run.finished_at or timezone.now()
        elapsed = max((end - run.started_at).total_seconds(), 0.0)
        if elapsed > 0 and finished:
            throughput = finished / elapsed
            if not run.is_finished:
                eta = max(run.total - finished, 0) / throughput
    return RunProgress(
        total=run.total,
        done=run.done,
        failed=run.failed,
        cached=run.cached,
        finished=finished,
        percent=min(percent, 100.0),
        elapsed_s=elapsed,
        throughput=throughput,
        eta_s=eta,
        is_finished=run.is_finished,
    )


def run_waiting(run: JudgingRun) -> str | None:
    """Why an active run is not moving, or None while a worker beats its heartbeat.

    "no worker has reported for 45 s; no worker is consuming the `api` queue": the heartbeat's
    age, then what Celery's inspection says of the run's queue (cached briefly, it is a
    broadcast). Only asked once the heartbeat has gone silent for the stale window.
    """
    if run.is_finished:
        return None
    silent = liveness.silent_for(run.heartbeat_at or run.created_at, timezone.now())
    if silent is None:
        return None
    return liveness.waiting_reason(
        silent_s=silent, state=liveness.queue_state(chunk_queue_for(run.judge.backend))
    )


# --- per-pair outcomes ------------------------------------------------------------------------


@dataclass
class _Orders:
    ab: str | None = None
    ba: str | None = None
    p_ab: float | None = None
    p_ba: float | None = None
    rationale_ab: str = ""
    rationale_ba: str = ""
    cached_ab: bool = False
    cached_ba: bool = False


def _order_verdicts(run: JudgingRun, *, rationales: bool) -> dict[int, _Orders]:
    """Each pair's verdict per order; a failed judgment counts as ``invalid``, pending as None."""
    fields = ["pair_id", "order", "status", "verdict", "p_first", "cached"]
    if rationales:
        fields.append("rationale")
    orders: dict[int, _Orders] = {}
    rows = (
        Judgment.objects.filter(run_id=run.pk)
        .exclude(status=JudgmentStatus.PENDING)
        .order_by()
        .values_list(*fields)
    )
    for row in rows:
        pair_id, order, status, verdict, p_first, cached = row[:6]
        entry = orders.get(pair_id)
        if entry is None:
            entry = orders[pair_id] = _Orders()
        value = verdict if status == JudgmentStatus.DONE and verdict else "invalid"
        rationale = row[6] if rationales else ""
        if order == "AB":
            entry.ab, entry.p_ab, entry.rationale_ab = value, p_first, rationale
            entry.cached_ab = cached
        else:
            entry.ba, entry.p_ba, entry.rationale_ba = value, p_first, rationale
            entry.cached_ba = cached
    return orders


def _target_rows(run: JudgingRun, *, texts: bool) -> Iterable[tuple[Any, ...]]:
    """(pair id, domain, gold[, prompt, len a, len b, head a, head b]) for every pair of the target.

    Only the opening of each response is read (enough for the refusal markers); lengths come
    from the database.
    """
    text_fields: dict[str, Any] = {}
    if run.reference_set_id is not None:
        base: QuerySet[Any] = ReferenceItem.objects.filter(reference_set_id=run.reference_set_id)
        prefix = "pair__"
        fields = ["pair_id", "pair__domain", "gold_label"]
    else:
        # A run without a reference set has a dataset (a check constraint says so).
        base = Pair.objects.filter(dataset_id=int(run.dataset_id or 0))
        prefix = ""
        fields = ["pk", "domain", "gold_label"]
    if texts:
        text_fields = {
            "len_a": Length(f"{prefix}response_a"),
            "len_b": Length(f"{prefix}response_b"),
            "head_a": Substr(f"{prefix}response_a", 1, REFUSAL_WINDOW),
            "head_b": Substr(f"{prefix}response_b", 1, REFUSAL_WINDOW),
        }
        fields += [f"{prefix}prompt", "len_a", "len_b", "head_a", "head_b"]
        base = base.annotate(**text_fields)
    return base.order_by().values_list(*fields)


def run_pair_outcomes(
    run: JudgingRun, *, texts: bool = True, rationales: bool = True
) -> list[dict[str, Any]]:
    """One row per pair of the run whose two orders are both finished, ordered by pair id.

    Keys: ``pair_id, domain, gold, verdict, verdict_ab, verdict_ba, consistent, p_a,
    rationale_ab, rationale_ba, cached_ab, cached_ba, cached`` (``cached``: either order was
    answered from the judging cache) and, with ``texts``, ``prompt_hash`` (sha256 of the prompt,
    16 hex digits: pairs sharing a prompt share it), ``len_a``, ``len_b`` (characters) and
    ``refuses_a``, ``refuses_b`` (refusal markers at the start of each response). The verdict
    aggregates both orders (``protocol.aggregate_pair``); a failed order counts as ``invalid``.
    Pairs left pending (a cancelled run) are not listed. ``rationales=False`` leaves the
    rationales empty (less to read). Two queries whatever the size.
    """
    orders = _order_verdicts(run, rationales=rationales)
    rows: list[dict[str, Any]] = []
    for target in _target_rows(run, texts=texts):
        pair_id, domain, gold = target[:3]
        entry = orders.get(pair_id)
        if entry is None or entry.ab is None or entry.ba is None:
            continue
        aggregated = aggregate_pair(entry.ab, entry.ba, entry.p_ab, entry.p_ba)  # type: ignore[arg-type]
        row: dict[str, Any] = {
            "pair_id": pair_id,
            "domain": domain,
            "gold": gold,
            "verdict": aggregated.verdict,
            "verdict_ab": entry.ab,
            "verdict_ba": entry.ba,
            "consistent": aggregated.consistent,
            "p_a": aggregated.p_a,
            "rationale_ab": entry.rationale_ab,
            "rationale_ba": entry.rationale_ba,
            "cached_ab": entry.cached_ab,
            "cached_ba": entry.cached_ba,
            "cached": entry.cached_ab or entry.cached_ba,
        }
        if texts:
            prompt, len_a, len_b, head_a, head_b = target[3:]
            row["prompt_hash"] = hashlib.sha256(prompt.encode("utf-8")).hexdigest()[:16]
            row["len_a"] = int(len_a or 0)
            row["len_b"] = int(len_b or 0)
            row["refuses_a"] = is_refusal(head_a or "")
            row["refuses_b"] = is_refusal(head_b or "")
        rows.append(row)
    rows.sort(key=lambda r: r["pair_id"])
    return rows


# --- accuracy ---------------------------------------------------------------------------------


def run_accuracy_compute(run: JudgingRun) -> dict[str, Any]:
    """Accuracy against the gold labels, overall and per domain (docs/api.md "run" accuracy)."""
    outcomes = run_pair_outcomes(run, texts=False, rationales=False)
    return accuracy_summary(
        (r["domain"], r["gold"], r["verdict"], r["consistent"]) for r in outcomes
    )


# While a run is active, its accuracy is recomputed from every judgment so far: the cost grows
# with the run (about 9 ms of CPU per 1,000 judgments). Polls reuse the last figures while they
# are younger than ACCURACY_REFRESH_S or ACCURACY_COST_FACTOR times what computing them took, so
# however many clients poll and however fast chunks commit, a run's accuracy costs at most about
# 1/ACCURACY_COST_FACTOR of one core. Keying the cache on progress alone was measured to fail:
# when chunks commit every few tens of milliseconds nearly every poll saw new progress, and 50
# pollers slowed a 50,000-judgment run 2.5x.
ACCURACY_REFRESH_S = 5.0
ACCURACY_COST_FACTOR = 20


def run_accuracy(run: JudgingRun) -> dict[str, Any]:
    """The stored summary of an ended run, or the accuracy of what is judged so far.

    Figures of an active run may be a few seconds behind its progress (see
    ``ACCURACY_REFRESH_S``); once the run has ended they are exact.
    """
    if run.summary is not None and run.status != RunStatus.CANCELLED:
        return run.summary
    key = f"run-accuracy:{run.pk}"
    progress = [run.status, run.done, run.failed]
    entry: dict[str, Any] | None = cache.get(key)
    if entry is not None:
        age = time.time() - entry["at"]
        fresh = entry["progress"] == progress or (
            not run.is_finished
            and age < max(ACCURACY_REFRESH_S, ACCURACY_COST_FACTOR * entry["cost"])
        )
        # Stale figures serve the other pollers while one of them computes new ones.
        if fresh or not cache.add(f"{key}:computing", True, timeout=60):
            return dict(entry["value"])
    started = time.time()
    value = run_accuracy_compute(run)
    finished = time.time()
    cache.set(
        key,
        {"value": value, "progress": progress, "at": finished, "cost": finished - started},
        timeout=3600,
    )
    cache.delete(f"{key}:computing")
    return value


# --- the pairs table --------------------------------------------------------------------------


CORRECTNESS = ("correct", "half", "wrong", "unscored")


def _correctness(verdict: str, gold: str | None) -> str:
    points = score(verdict, gold)
    if points is None:
        return "unscored"
    if points == 1.0:
        return "correct"
    if points == 0.5:
        return "half"
    return "wrong"


def run_pair_rows(
    run: JudgingRun,
    *,
    domain: str = "",
    verdict: str = "",
    correctness: str = "",
    consistent: str = "",
    cached: str = "",
) -> list[dict[str, Any]]:
    """Per-pair rows for the run page's table, filtered; each has a ``correctness`` key.

    ``consistent`` and ``cached`` take ``yes`` or ``no`` (anything else does not filter):
    ``cached=yes`` keeps the pairs with either order answered from the cache, the rows behind
    the run's "From cache" figure.
    """
    rows = []
    for row in run_pair_outcomes(run, texts=False):
        row["correctness"] = _correctness(row["verdict"], row["gold"])
        if domain and row["domain"] != domain:
            continue
        if verdict and row["verdict"] != verdict:
            continue
        if correctness and row["correctness"] != correctness:
            continue
        if consistent in ("yes", "no") and row["consistent"] != (consistent == "yes"):
            continue
        if cached in ("yes", "no") and row["cached"] != (cached == "yes"):
            continue
        rows.append(row)
    return rows


def run_domains(run: JudgingRun) -> list[str]:
    """The domains of the run's target, sorted."""
    values: QuerySet[Any, str]
    if run.reference_set_id is not None:
        values = ReferenceItem.objects.filter(reference_set_id=run.reference_set_id).values_list(
            "pair__domain", flat=True
        )
    else:
        values = Pair.objects.filter(dataset_id=int(run.dataset_id or 0)).values_list(
            "domain", flat=True
        )
    return sorted(set(values.order_by().distinct()))


# --- failures ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunFailures:
    """Judgments that failed or came back with an error, grouped by reason."""

    count: int
    reasons: list[tuple[str, int]]
    examples: list[dict[str, Any]]


def run_failures(run: JudgingRun, *, examples: int = 10) -> RunFailures:
    """Failed judgments and invalid answers with an error, most common reasons first."""
    errored = Judgment.objects.filter(run_id=run.pk).exclude(error="")
    reasons = Counter(errored.order_by().values_list("error", flat=True))
    sample = [
        dict(row)
        for row in errored.order_by("pk").values(
            "pk", "pair_id", "order", "status", "error", "attempts"
        )[:examples]
    ]
    return RunFailures(
        count=sum(reasons.values()), reasons=reasons.most_common(10), examples=sample
    )


# --- cost estimate ----------------------------------------------------------------------------


@dataclass(frozen=True)
class CostEstimate:
    """What a run would cost before it starts (cache hits not subtracted)."""

    pairs: int
    judgments: int
    tokens_in: int
    tokens_out: int
    cost: Decimal
    priced: bool
    sampled: int
    is_demo: bool


def run_estimate(
    *,
    rubric_version: RubricVersion,
    judge: JudgeConfig,
    reference_set: ReferenceSet | None = None,
    dataset: Dataset | None = None,
    sample: int = ESTIMATE_SAMPLE,
) -> CostEstimate:
    """Tokens and money of judging the target in both orders with this rubric and judge.

    Input tokens: ``estimate_tokens`` over the rendered prompts of up to ``sample`` pairs spread
    evenly over the target, scaled to all pairs, times two orders. Output tokens: the judge's
    ``max_tokens`` (an upper bound) per request.
    """
    if reference_set is not None:
        pairs = Pair.objects.filter(reference_items__reference_set=reference_set)
    elif dataset is not None:
        pairs = Pair.objects.filter(dataset=dataset)
    else:
        pairs = Pair.objects.none()
    count = pairs.count()
    spec = rubric_version.to_spec()
    mode: Mode = "reasoned" if spec.output_format == "reasoned" else "verdict"
    if judge.params.get("mode") in ("verdict", "reasoned"):
        mode = judge.params["mode"]
    step = max(1, math.ceil(count / sample)) if count else 1
    ids = list(pairs.order_by("pk").values_list("pk", flat=True)[::step]) if count else []
    sampled_tokens = 0
    for prompt, a, b in Pair.objects.filter(pk__in=ids).values_list(
        "prompt", "response_a", "response_b"
    ):
        try:
            messages = render_messages(spec, PairText(prompt, a, b), "AB", mode=mode)
        except ValueError:
            messages = ({"role": "user", "content": prompt + a + b},)
        sampled_tokens += estimate_messages_tokens(messages)
    per_pair = sampled_tokens / len(ids) if ids else 0.0
    judgments = 2 * count
    tokens_in = round(per_pair * count * 2)
    tokens_out = judgments * max_tokens(judge.params, mode)
    priced = bool(judge.price_in or judge.price_out)
    return CostEstimate(
        pairs=count,
        judgments=judgments,
        tokens_in=tokens_in,
        tokens_out=tokens_out,
        cost=token_cost(tokens_in, tokens_out, judge.price_in, judge.price_out),
        priced=priced,
        sampled=len(ids),
        is_demo=judge.backend == Backend.OFFLINE,
    )


# --- one judgment, with its evidence ----------------------------------------------------------


@dataclass
class JudgmentEvidence:
    """Everything behind one judgment: the messages as sent, the answer and its accounting.

    ``messages`` are rebuilt with the rendering the run used (the run's rubric version, the
    judge's mode and answer options): rendering is deterministic and published versions never
    change, so the rebuilt messages are the ones sent (the cache key is a hash of the same text).
    ``render_error`` says why they could not be rebuilt (a template missing a placeholder).
    The judge config can be edited after the run (a check's recommendations change its prompt
    layout), so ``verified`` says whether the rebuilt messages hash to the cache key the
    judgment stored when it was sent: True, they are the very messages; False, the config
    changed since; None, nothing stored to compare with (a judgment still pending).
    """

    judgment: Judgment
    pair: Pair
    gold: str | None
    messages: tuple[dict[str, str], ...]
    render_error: str
    verified: bool | None
    cost: Decimal
    other_order: str


def judgment_evidence(run: JudgingRun, *, pair_id: int, order: str) -> JudgmentEvidence | None:
    """The judgment of ``pair_id`` in ``order`` of ``run`` with its evidence, or None if the run
    has no such judgment (a pair outside its target, an unknown order)."""
    if order not in ("AB", "BA"):
        return None
    judgment = (
        Judgment.objects.select_related("pair")
        .filter(run=run, pair_id=pair_id, order=order)
        .first()
    )
    if judgment is None:
        return None
    pair = judgment.pair
    gold: str | None = pair.gold_label
    if run.reference_set_id is not None:
        gold = (
            ReferenceItem.objects.filter(reference_set_id=run.reference_set_id, pair_id=pair.pk)
            .values_list("gold_label", flat=True)
            .first()
        )
    judge = run.judge
    options = judge_options(judge.params)
    mode = judge.params.get("mode")
    messages: tuple[dict[str, str], ...] = ()
    render_error = ""
    try:
        messages = render_messages(
            run.rubric_version.to_spec(),
            PairText(pair.prompt, pair.response_a, pair.response_b, pair.domain),
            order,  # type: ignore[arg-type]
            mode=mode if mode in ("verdict", "reasoned") else None,
            layout=options.layout,
            one_token=options.one_token,
        )
    except ValueError as exc:
        render_error = str(exc)
    verified: bool | None = None
    if judgment.cache_key and messages:
        fingerprint = judge_fingerprint(
            backend=judge.backend, model=judge.model, params=judge.params
        )
        verified = judgment.cache_key == cache_key(
            messages=messages, fingerprint=fingerprint, order=order
        )
    return JudgmentEvidence(
        judgment=judgment,
        pair=pair,
        gold=gold,
        messages=messages,
        render_error=render_error,
        verified=verified,
        # A cached answer cost nothing in this run: its tokens count as savings.
        cost=Decimal(0)
        if judgment.cached
        else token_cost(judgment.tokens_in, judgment.tokens_out, judge.price_in, judge.price_out),
        other_order="BA" if order == "AB" else "AB",
    )


def reusable_run(
    *, version: Any, judge: JudgeConfig, reference_set: ReferenceSet, active_ok: bool
) -> JudgingRun | None:
    """A run of ``version`` on this judge and snapshot that a comparison can use instead of a
    new one: a succeeded run made after the judge config was last edited; failing that (and
    when ``active_ok``), one still queued or running. Runs with failures are not reused: their
    invalid verdicts would count as wrong answers."""
    runs = JudgingRun.objects.filter(
        rubric_version=version, judge=judge, reference_set=reference_set
    ).order_by("-created_at", "-pk")
    if judge.updated_at is not None:
        runs = runs.filter(created_at__gte=judge.updated_at)
    finished = runs.filter(status=RunStatus.SUCCEEDED).first()
    if finished is not None or not active_ok:
        return finished
    return runs.filter(status__in=ACTIVE_RUN_STATUSES).first()
