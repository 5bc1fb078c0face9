"""What a run would cost before it starts."""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal

from apps.datasets.models import Dataset, Pair, ReferenceSet
from apps.judging.accounting import token_cost
from apps.judging.models import (
    Backend,
    JudgeConfig,
)
from apps.judging.options import max_tokens
from apps.judging.prompting import estimate_messages_tokens, render_messages
from apps.judging.types import Mode, PairText
from apps.rubrics.models import RubricVersion

# Pairs whose prompts are rendered to estimate a run's input tokens (the rest are scaled).
ESTIMATE_SAMPLE = 400


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
