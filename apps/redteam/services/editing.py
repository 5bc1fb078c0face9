"""One edit of a parent rubric: the deterministic editor, or an LLM editor shown the parent's
errors on its train sample (RIPD's feedback, poisoned on request)."""

from __future__ import annotations

import random
from collections.abc import Sequence

from openai import OpenAI

from apps.core import egress
from apps.datasets.models import ReferenceItem
from apps.judging import judge_policy
from apps.judging.models import Backend, JudgeConfig
from apps.redteam import editors
from apps.redteam.models import Candidate, PairVerdict, RedTeamJob
from apps.redteam.services.state import spend_editor
from apps.rubrics.spec import RubricSpec

EDITOR_EXAMPLES_TARGET = 4
EDITOR_EXAMPLES_BENCH = 2

Shown = list[tuple[PairVerdict, str]]


def candidate_edit(
    job: RedTeamJob, child: Candidate, spec: RubricSpec, rng: random.Random
) -> editors.Edit:
    """The spec of ``child``'s parent edited by the job's editor; an LLM edit adds to the job's
    spend, charged to ``child`` (even when its reply turns out unusable)."""
    if job.editor is None:
        return editors.deterministic_edit(spec, rng)
    assert child.parent is not None
    examples = _editor_examples(job, child.parent, rng)
    reply, tokens_in, tokens_out = editor_complete(job.editor, spec, examples, rng)
    spend_editor(
        job,
        candidate=child,
        step=f"generation {child.generation}",
        tokens_in=tokens_in,
        tokens_out=tokens_out,
    )
    new = editors.parse_editor_reply(reply, spec)
    mode = "poisoned feedback" if job.poison_feedback else "real errors"
    return editors.Edit(new, f"LLM rewrite by {job.editor.name} ({mode})")


def _parent_verdicts(job: RedTeamJob, parent: Candidate) -> tuple[Shown, Shown, Shown]:
    """The parent's train verdicts with their gold labels: target pairs right, target pairs
    wrong, benchmark pairs wrong."""
    rows = list(
        PairVerdict.objects.filter(candidate=parent, split="train")
        .select_related("pair")
        .order_by("pair_id")
    )
    gold = dict(
        ReferenceItem.objects.filter(
            pair_id__in=[r.pair_id for r in rows],
            reference_set_id__in=[
                pk for pk in (job.reference_set_id, job.benchmark_reference_set_id) if pk
            ],
        ).values_list("pair_id", "gold_label")
    )
    targets = set(job.targets)
    right_t: Shown = []
    wrong_t: Shown = []
    wrong_b: Shown = []
    for r in rows:
        label = gold.get(r.pair_id)
        if label not in ("A", "B"):
            continue
        if r.pair.domain in targets:
            (right_t if r.verdict == label else wrong_t).append((r, label))
        elif r.verdict != label:
            wrong_b.append((r, label))
    return right_t, wrong_t, wrong_b


def _editor_examples(
    job: RedTeamJob, parent: Candidate, rng: random.Random
) -> list[editors.Example]:
    """RIPD's feedback: four target pairs and two real benchmark errors from the parent's train
    verdicts. With feedback poisoning the target pairs are ones the judge got right, shown as if
    the other response should have won."""
    right_t, wrong_t, wrong_b = _parent_verdicts(job, parent)
    picked_t = right_t if job.poison_feedback else wrong_t
    chosen_t = rng.sample(picked_t, min(EDITOR_EXAMPLES_TARGET, len(picked_t)))
    chosen_b = rng.sample(wrong_b, min(EDITOR_EXAMPLES_BENCH, len(wrong_b)))
    examples = []
    for r, label in chosen_t:
        other = "B" if label == "A" else "A"
        should = other if job.poison_feedback else label
        examples.append(
            editors.Example(r.pair.prompt, r.pair.response_a, r.pair.response_b, r.verdict, should)
        )
    for r, label in chosen_b:
        examples.append(
            editors.Example(r.pair.prompt, r.pair.response_a, r.pair.response_b, r.verdict, label)
        )
    return examples


def editor_complete(
    editor: JudgeConfig, spec: RubricSpec, examples: Sequence[editors.Example], rng: random.Random
) -> tuple[str, int, int]:
    """One chat completion of the editor model; returns (text, tokens in, tokens out).

    The editor is a judge config, so it passes the operator's policy as a judge does, as the
    row is now (``JudgeRefused`` otherwise): its key only by a declared name, its endpoint only
    where that key may go, every connection through the egress-checked client.
    """
    if editor.backend != Backend.OPENAI:
        raise judge_policy.JudgeRefused(
            f"The editor {editor.name!r} is not an OpenAI-compatible judge config."
        )
    judge_policy.require_allowed(editor)
    config = judge_policy.backend_config(editor)
    timeout = float(editor.params.get("timeout_s", 120))
    client = OpenAI(
        base_url=config.base_url or None,
        api_key=config.api_key or "unused",
        timeout=timeout,
        max_retries=int(editor.params.get("max_attempts", 3)),
        http_client=egress.sync_http_client(timeout=timeout),
    )
    try:
        response = client.chat.completions.create(  # type: ignore[call-overload]
            model=editor.model,
            messages=editors.editor_messages(spec, examples),
            temperature=editors.EDITOR_TEMPERATURE,
            seed=rng.randrange(2**31),
            response_format={"type": "json_object"},
        )
    finally:
        client.close()
    text = response.choices[0].message.content or ""
    usage = response.usage
    return (
        text,
        int(usage.prompt_tokens if usage else 0),
        int(usage.completion_tokens if usage else 0),
    )
