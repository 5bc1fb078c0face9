"""Batched scoring: the shared rubric prefix run once, left-padded forward passes, and vLLM."""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Sequence
from typing import Any

from apps.judging.backends.local.loading import LoadedModel, SharedPrefix

MIN_PREFIX_TOKENS = 16


def common_prefix_length(sequences: Sequence[Sequence[int]]) -> int:
    """How many leading tokens all ``sequences`` share."""
    shortest = min(len(seq) for seq in sequences)
    first = sequences[0]
    for position in range(shortest):
        token = first[position]
        if any(seq[position] != token for seq in sequences):
            return position
    return shortest


def shared_prefix(loaded: LoadedModel, sequences: Sequence[Sequence[int]]) -> SharedPrefix | None:
    """The prefix cache to use for ``sequences``: the stored one if they all start with it,
    else one computed now for their common prefix (rubric first, so it is long), else none.

    One prefix is kept per loaded model: a chunk's requests share their rubric, and so do
    the chunks of a run, so one entry is hit by every batch after the first.
    """
    import torch

    stored = loaded.prefix
    if stored is not None and all(
        len(seq) > len(stored.ids) and tuple(seq[: len(stored.ids)]) == stored.ids
        for seq in sequences
    ):
        return stored
    if len(sequences) < 2:
        return None
    # At least one token of each prompt stays outside the prefix: its logits are the answer.
    length = min(common_prefix_length(sequences), min(len(seq) for seq in sequences) - 1)
    if length < MIN_PREFIX_TOKENS:
        return None
    ids = tuple(int(t) for t in sequences[0][:length])
    with torch.inference_mode():
        output = loaded.model(
            input_ids=torch.tensor([ids], dtype=torch.long, device=loaded.device), use_cache=True
        )
    prefix = SharedPrefix(ids=ids, cache=output.past_key_values)
    loaded.prefix = prefix
    return prefix


def forward_batch(
    loaded: LoadedModel,
    sequences: Sequence[Sequence[int]],
    ids: tuple[int, ...],
    prefix: SharedPrefix | None = None,
) -> list[list[float]]:
    """One left-padded forward pass; the verdict tokens' logits at each sequence's next token.

    With ``prefix``, only the tokens after it are run, attending to a copy of its cache
    repeated for the batch: the padding then sits between the prefix and each suffix, which
    the attention mask hides and the position ids skip.
    """
    import torch

    start = len(prefix.ids) if prefix is not None else 0
    tails = [seq[start:] for seq in sequences]
    width = max(len(tail) for tail in tails)
    batch = len(tails)
    pad = loaded.tokenizer.pad_token_id
    input_ids = torch.full((batch, width), pad, dtype=torch.long)
    attention = torch.zeros((batch, width), dtype=torch.long)
    for row, tail in enumerate(tails):
        input_ids[row, width - len(tail) :] = torch.tensor(list(tail), dtype=torch.long)
        attention[row, width - len(tail) :] = 1
    # Positions count real tokens only, so padding does not shift a sequence's positions.
    positions = (start + attention.cumsum(-1) - 1).clamp(min=0)
    device = loaded.device
    inputs: dict[str, Any] = {
        "input_ids": input_ids.to(device),
        "position_ids": positions.to(device),
    }
    if prefix is not None:
        cache = copy.deepcopy(prefix.cache)
        cache.batch_repeat_interleave(batch)
        attention = torch.cat([torch.ones((batch, start), dtype=torch.long), attention], dim=1)
        inputs.update(past_key_values=cache, use_cache=True)
    else:
        inputs["use_cache"] = False
    inputs["attention_mask"] = attention.to(device)
    with torch.inference_mode():
        if loaded.supports_logits_to_keep:
            try:
                # Only the last position's logits are needed: skips a (batch, width, vocab) tensor.
                output = loaded.model(**inputs, logits_to_keep=1)
            except TypeError:
                loaded.supports_logits_to_keep = False
        if not loaded.supports_logits_to_keep:
            output = loaded.model(**inputs)
        last = output.logits[:, -1, :].float()
        picked = last[:, list(ids)].cpu()
    return [row.tolist() for row in picked]


def score_vllm(
    loaded: LoadedModel, sequences: Sequence[Sequence[int]], ids: tuple[int, ...]
) -> list[tuple[list[float] | None, int]]:
    """vLLM's offline engine: one greedy token per prompt, reading the verdict tokens' logprobs.

    vLLM schedules the whole list itself (continuous batching, automatic prefix caching of the
    shared rubric prefix). Log-probabilities differ from logits by a per-prompt constant, which
    changes neither the argmax nor the renormalised probabilities. A verdict token outside the
    returned top ``k`` counts as impossible.
    """
    from vllm import SamplingParams

    if not sequences:
        return []
    params = SamplingParams(max_tokens=1, temperature=0.0, logprobs=20)
    began = time.perf_counter()
    outputs = loaded.model.generate(
        [{"prompt_token_ids": list(seq)} for seq in sequences], params, use_tqdm=False
    )
    ms = round((time.perf_counter() - began) * 1000)
    scored: list[tuple[list[float] | None, int]] = []
    for output in outputs:
        top = output.outputs[0].logprobs[0] if output.outputs and output.outputs[0].logprobs else {}
        values = [float(top[i].logprob) if i in top else -math.inf for i in ids]
        scored.append((values if any(math.isfinite(v) for v in values) else None, ms))
    return scored
