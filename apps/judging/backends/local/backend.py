"""The ``local`` backend itself: requests in, verdicts read from the verdict tokens' logits."""

from __future__ import annotations

import math
import time
from collections.abc import Sequence

from apps.judging.backends.base import BackendConfig, JudgeBackend, register
from apps.judging.backends.local.loading import LoadedModel, load_model
from apps.judging.backends.local.prompts import (
    DEFAULT_PREFIX,
    DEFAULT_WORDS,
    SHOWN,
    render_prompt,
    verdict_token_ids,
)
from apps.judging.backends.local.scoring import forward_batch, score_vllm, shared_prefix
from apps.judging.parsing import p_first_from_logprobs
from apps.judging.types import JudgeRequest, JudgeResult, Mode


@register("local")
class LocalBackend(JudgeBackend):
    """Judge with a causal LM in this process: one forward pass per batch of requests.

    ``config.model`` is a hub id or a local folder. ``config.params`` (all optional): ``device``
    (``auto``/``cpu``/``cuda``/``cuda:1``), ``dtype`` (``auto``, ``float32``, ``bfloat16``...),
    ``engine`` (``auto``/``transformers``/``vllm``), ``batch_size`` (8), ``mode`` (default the
    rubric's output format), ``allow_tie`` (true), ``answer_prefix`` and ``verdict_words``
    (override the defaults above), ``prefix_cache`` (true: the prompts' common prefix, the
    rubric, is run once and its key/value cache reused), ``trust_remote_code`` (false).
    """

    def __init__(self, config: BackendConfig) -> None:
        super().__init__(config)
        params = config.params
        self.device = str(params.get("device", "auto"))
        self.dtype = str(params.get("dtype", "auto"))
        self.engine = str(params.get("engine", "auto"))
        self.batch_size = max(1, int(params.get("batch_size", 8)))
        self.allow_tie = bool(params.get("allow_tie", True))
        self.trust_remote_code = bool(params.get("trust_remote_code", False))
        self.prefix_cache = bool(params.get("prefix_cache", True))

    def loaded(self) -> LoadedModel:
        """The model of this backend's config, loading it on first use in this process."""
        return load_model(
            self.config.model,
            device=self.device,
            dtype=self.dtype,
            engine=self.engine,
            trust_remote_code=self.trust_remote_code,
        )

    def _mode(self, request: JudgeRequest) -> Mode:
        mode = self.config.params.get("mode") or request.rubric.output_format
        return "reasoned" if mode == "reasoned" else "verdict"

    def judge_batch(self, requests: Sequence[JudgeRequest]) -> list[JudgeResult]:
        """Judge ``requests`` in batched forward passes; results in the order of ``requests``."""
        if not requests:
            return []
        loaded = self.loaded()
        results: list[JudgeResult | None] = [None] * len(requests)
        # Requests of different modes need different prefixes; a run normally has one mode.
        by_mode: dict[Mode, list[int]] = {}
        for index, request in enumerate(requests):
            by_mode.setdefault(self._mode(request), []).append(index)
        for mode, indices in by_mode.items():
            prefix = str(self.config.params.get("answer_prefix", DEFAULT_PREFIX[mode]))
            words = tuple(self.config.params.get("verdict_words", DEFAULT_WORDS[mode]))
            cache_key = (prefix, words)
            if cache_key not in loaded.token_ids:
                loaded.token_ids[cache_key] = verdict_token_ids(loaded.tokenizer, prefix, words)
            ids = loaded.token_ids[cache_key]
            prompts = [
                render_prompt(loaded.tokenizer, requests[i].messages, prefix) for i in indices
            ]
            scored = self._score(loaded, prompts, ids)
            for i, (logits, n_tokens, latency_ms, error) in zip(indices, scored, strict=True):
                results[i] = self._result(requests[i], words, logits, n_tokens, latency_ms, error)
        return [r for r in results if r is not None]

    def _result(
        self,
        request: JudgeRequest,
        words: Sequence[str],
        logits: Sequence[float] | None,
        n_tokens: int,
        latency_ms: int,
        error: str,
    ) -> JudgeResult:
        # The verdict is read from the next-token logits of the letters, as in one-token mode.
        result = JudgeResult(
            key=request.key,
            verdict="invalid",
            tokens_in=n_tokens,
            latency_ms=latency_ms,
            verdict_source="logprobs",
        )
        if logits is None:
            result.error = error
            return result
        considered = 3 if self.allow_tie else 2
        values = [float(v) for v in logits[:considered]]
        if any(math.isnan(v) for v in values) or not any(math.isfinite(v) for v in values):
            result.error = "the verdict tokens have no finite score"
            result.extra["verdict_logits"] = dict(zip(SHOWN, values, strict=False))
            return result
        best = max(range(considered), key=lambda k: values[k])
        result.verdict = SHOWN[best]
        result.raw_output = words[best]
        # The same reading as the log-probabilities of a hosted judge: renormalised over the
        # verdict tokens, a tie counting half (parsing.p_first_from_logprobs).
        top = max(values)
        norm = top + math.log(sum(math.exp(v - top) for v in values))
        logprobs = [v - norm for v in values]
        result.p_first = p_first_from_logprobs(list(zip(("A", "B", "C"), logprobs, strict=False)))
        result.extra["verdict_probs"] = {
            shown: math.exp(lp) for shown, lp in zip(SHOWN, logprobs, strict=False)
        }
        return result

    # -- scoring ------------------------------------------------------------------------------

    def _score(
        self, loaded: LoadedModel, prompts: Sequence[str], ids: tuple[int, ...]
    ) -> list[tuple[list[float] | None, int, int, str]]:
        """Per prompt: the verdict tokens' logits (or ``None``), prompt tokens, ms, error."""
        with_template = bool(getattr(loaded.tokenizer, "chat_template", None))
        # A chat template writes its own special tokens (BOS and the like).
        encoded = loaded.tokenizer(list(prompts), add_special_tokens=not with_template)["input_ids"]
        out: list[tuple[list[float] | None, int, int, str]] = [
            (None, len(seq), 0, "") for seq in encoded
        ]
        runnable: list[int] = []
        for index, seq in enumerate(encoded):
            if loaded.max_positions is not None and len(seq) > loaded.max_positions:
                out[index] = (
                    None,
                    len(seq),
                    0,
                    f"prompt of {len(seq)} tokens exceeds the model's {loaded.max_positions}",
                )
            else:
                runnable.append(index)
        if loaded.engine == "vllm":
            scored = score_vllm(loaded, [encoded[i] for i in runnable], ids)
            for index, (logits, ms) in zip(runnable, scored, strict=True):
                missing = logits is None
                out[index] = (
                    logits,
                    len(encoded[index]),
                    ms,
                    "no verdict token among the top logprobs" if missing else "",
                )
            return out
        prefix = None
        if self.prefix_cache and runnable:
            try:
                prefix = shared_prefix(loaded, [encoded[i] for i in runnable])
            except (TypeError, AttributeError, NotImplementedError):
                # A model whose forward takes no cache object: every batch runs whole.
                self.prefix_cache = False
        # Shortest first: each batch pads to its longest member, so similar lengths waste little.
        runnable.sort(key=lambda i: len(encoded[i]))
        for start in range(0, len(runnable), self.batch_size):
            chunk = runnable[start : start + self.batch_size]
            began = time.perf_counter()
            rows = forward_batch(loaded, [encoded[i] for i in chunk], ids, prefix)
            ms = round((time.perf_counter() - began) * 1000)
            for index, logits in zip(chunk, rows, strict=True):
                out[index] = (logits, len(encoded[index]), ms, "")
        return out
