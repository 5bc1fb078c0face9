"""One judgment with its evidence: the messages as sent, the answer, and its accounting."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from apps.datasets.models import Pair, ReferenceItem
from apps.judging.accounting import cache_key, judge_fingerprint, token_cost
from apps.judging.models import (
    JudgingRun,
    Judgment,
)
from apps.judging.options import judge_options
from apps.judging.prompting import render_messages
from apps.judging.types import PairText

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
