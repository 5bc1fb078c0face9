"""The ``local`` backend: a Hugging Face causal LM loaded in the worker process itself.

The model is loaded once per process (a GPU worker runs one process per GPU) and kept in a
module-level cache keyed by model, device, dtype and engine. Each request's chat messages are
rendered with the tokenizer's chat template (plain concatenation when it has none), followed by
an answer prefix (``[[``), so the judge's next token is the verdict letter. The verdict is read
from the next-token logits of the verdict tokens (``A``, ``B``, and ``C`` for a tie): no text is
generated, one forward pass judges a whole batch.

Batches are left-padded with explicit position ids, so a padded request gets exactly the
positions it would get alone (transformers does not derive them from the attention mask in a
plain forward call), and requests are sorted by length first so little padding is needed.
Prompts put the rubric first (see ``prompting``), so they share a long token prefix: it is run
once and its key/value cache reused by every batch (transformers has no automatic prefix
cache, hence the small one here); vLLM's offline engine, used when ``engine`` asks for it or on
CUDA when it is installed, does the same with its automatic prefix caching.

torch, transformers and vLLM are optional dependencies (``requirements-gpu.txt``), imported
only when the backend is used.
"""

from __future__ import annotations

import copy
import math
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from apps.judging.backends.base import BackendConfig, JudgeBackend, register
from apps.judging.parsing import p_first_from_logprobs
from apps.judging.types import JudgeRequest, JudgeResult, Mode, ShownVerdict

SHOWN: tuple[ShownVerdict, ShownVerdict, ShownVerdict] = ("first", "second", "tie")
# What the judge writes for each shown verdict right after the answer prefix, per output mode:
# verdict mode asks for [[A]]/[[B]]/[[C]]; reasoned mode's JSON uses "A"/"B"/"tie". Reasoned
# mode here reads the verdict value directly (no rationale is generated).
DEFAULT_PREFIX: dict[str, str] = {"verdict": "[[", "reasoned": '{"verdict": "'}
DEFAULT_WORDS: dict[str, tuple[str, str, str]] = {
    "verdict": ("A", "B", "C"),
    "reasoned": ("A", "B", "tie"),
}


@dataclass
class LoadedModel:
    """A model and its tokenizer, ready for batched scoring, with verdict token ids cached."""

    name: str
    device: str
    engine: str
    model: Any
    tokenizer: Any
    max_positions: int | None
    token_ids: dict[tuple[str, tuple[str, ...]], tuple[int, ...]] = field(default_factory=dict)
    supports_logits_to_keep: bool = True
    prefix: SharedPrefix | None = None


_MODELS: dict[tuple[str, str, str, str], LoadedModel] = {}
_LOAD_LOCK = threading.Lock()


def resolve_device(device: str) -> str:
    """``auto`` becomes ``cuda`` when a GPU is visible, else ``cpu``; others pass through."""
    try:
        import torch
    except ImportError as exc:
        raise RuntimeError(
            "the local judge backend needs torch and transformers "
            "(pip install -r requirements-gpu.txt)"
        ) from exc

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


def _torch_dtype(name: str, device: str) -> Any:
    import torch

    if name == "auto":
        if device.startswith("cuda"):
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.float32
    dtype = getattr(torch, name, None)
    if not isinstance(dtype, torch.dtype):
        raise ValueError(f"unknown dtype {name!r}")
    return dtype


def vllm_available() -> bool:
    """Whether vLLM can be imported in this process."""
    try:
        import vllm  # noqa: F401
    except ImportError:
        return False
    return True


def load_model(
    name: str,
    *,
    device: str = "auto",
    dtype: str = "auto",
    engine: str = "auto",
    trust_remote_code: bool = False,
) -> LoadedModel:
    """The model ``name`` (a hub id or a local folder), loaded once per process and cached."""
    device = resolve_device(device)
    if engine == "auto":
        engine = "vllm" if device.startswith("cuda") and vllm_available() else "transformers"
    key = (name, device, dtype, engine)
    with _LOAD_LOCK:
        cached = _MODELS.get(key)
        if cached is not None:
            return cached
        try:
            from transformers import AutoTokenizer
        except ImportError as exc:
            raise RuntimeError(
                "the local judge backend needs torch and transformers "
                "(pip install -r requirements-gpu.txt)"
            ) from exc

        tokenizer = AutoTokenizer.from_pretrained(name, trust_remote_code=trust_remote_code)
        tokenizer.padding_side = "left"
        if tokenizer.pad_token_id is None:
            tokenizer.pad_token = tokenizer.eos_token or tokenizer.unk_token
        if engine == "vllm":
            from vllm import LLM

            model: Any = LLM(
                model=name,
                dtype=dtype,
                enable_prefix_caching=True,
                trust_remote_code=trust_remote_code,
            )
            max_positions = None
        elif engine == "transformers":
            from transformers import AutoModelForCausalLM

            model = AutoModelForCausalLM.from_pretrained(
                name, dtype=_torch_dtype(dtype, device), trust_remote_code=trust_remote_code
            )
            model.to(device)
            model.eval()
            max_positions = getattr(model.config, "max_position_embeddings", None) or getattr(
                model.config, "n_positions", None
            )
        else:
            raise ValueError(f"unknown engine {engine!r}; use transformers, vllm or auto")
        loaded = LoadedModel(
            name=name,
            device=device,
            engine=engine,
            model=model,
            tokenizer=tokenizer,
            max_positions=max_positions,
        )
        _MODELS[key] = loaded
        return loaded


def unload_models() -> None:
    """Forget every cached model (tests; a worker keeps its model for its whole life)."""
    with _LOAD_LOCK:
        _MODELS.clear()


def render_prompt(tokenizer: Any, messages: Sequence[Mapping[str, str]], answer_prefix: str) -> str:
    """The prompt text: the chat template with a generation prompt, then ``answer_prefix``.

    A template that refuses a system role (some do) gets the system text merged into the first
    user message instead. Without a template the contents are joined by blank lines.
    """
    chat = [dict(m) for m in messages]
    if getattr(tokenizer, "chat_template", None):
        try:
            text = tokenizer.apply_chat_template(chat, tokenize=False, add_generation_prompt=True)
        except Exception:  # the template's own error type (jinja2) varies
            merged = _merge_system(chat)
            text = tokenizer.apply_chat_template(merged, tokenize=False, add_generation_prompt=True)
        return str(text) + answer_prefix
    return "\n\n".join(m.get("content", "") for m in chat) + "\n\n" + answer_prefix


def _merge_system(chat: list[dict[str, str]]) -> list[dict[str, str]]:
    system = "\n\n".join(m["content"] for m in chat if m.get("role") == "system")
    rest = [m for m in chat if m.get("role") != "system"]
    if system and rest:
        rest[0] = {**rest[0], "content": system + "\n\n" + rest[0]["content"]}
    return rest


def verdict_token_ids(tokenizer: Any, answer_prefix: str, words: Sequence[str]) -> tuple[int, ...]:
    """The id of the token each verdict word starts with, right after ``answer_prefix``.

    Found by tokenising the prefix with and without the word, so tokenizers that mark word
    starts (``▁A``, ``ĠA``) are handled. Raises ``ValueError`` when the word merges into the
    prefix's tokens or two words share a first token: a different ``answer_prefix`` is needed.
    """
    base = tokenizer(answer_prefix, add_special_tokens=False)["input_ids"]
    ids: list[int] = []
    for word in words:
        full = tokenizer(answer_prefix + word, add_special_tokens=False)["input_ids"]
        if len(full) <= len(base) or full[: len(base)] != base:
            raise ValueError(
                f"{word!r} is not a separate token after {answer_prefix!r} for this tokenizer"
            )
        ids.append(int(full[len(base)]))
    if len(set(ids)) != len(ids):
        raise ValueError(f"verdict words {list(words)} share a first token")
    return tuple(ids)


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
            scored = _score_vllm(loaded, [encoded[i] for i in runnable], ids)
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
            rows = _forward_batch(loaded, [encoded[i] for i in chunk], ids, prefix)
            ms = round((time.perf_counter() - began) * 1000)
            for index, logits in zip(chunk, rows, strict=True):
                out[index] = (logits, len(encoded[index]), ms, "")
        return out


MIN_PREFIX_TOKENS = 16


@dataclass
class SharedPrefix:
    """The key/value cache of a token prefix that every prompt of a run starts with."""

    ids: tuple[int, ...]
    cache: Any


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


def _forward_batch(
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


def _score_vllm(
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


def build_tiny_model(
    folder: Path,
    texts: Iterable[str],
    *,
    architecture: str = "llama",
    chat_template: bool = True,
    hidden_size: int = 32,
    layers: int = 2,
    max_positions: int = 1024,
    seed: int = 0,
) -> Path:
    """Save a small randomly initialised causal LM and a matching tokenizer in ``folder``.

    For tests and benchmarks of this backend's real loading and scoring code without any
    download: the tokenizer is word-level over the words of ``texts`` (plus the verdict tokens
    and the chat template's words), the model a Llama or GPT-2 of the given size. Its verdicts
    are meaningless; its shapes, padding and batching are those of a real model.
    """
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    splitter = pre_tokenizers.Whitespace()
    seed_texts = ["[[A]] [[B]] [[C]] tie system user assistant :", '{"verdict": "A"}']
    words = [w for text in [*seed_texts, *texts] for w, _ in splitter.pre_tokenize_str(text)]
    # Special tokens by role (these "tokens" are vocabulary entries, not credentials).
    roles = {"pad_token": "[PAD]", "unk_token": "[UNK]", "bos_token": "[BOS]", "eos_token": "[EOS]"}
    vocab = {token: i for i, token in enumerate(dict.fromkeys([*roles.values(), *words]))}
    core = Tokenizer(models.WordLevel(vocab=vocab, unk_token=roles["unk_token"]))
    core.pre_tokenizer = splitter
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=core, **roles)
    if chat_template:
        tokenizer.chat_template = (
            "{% for m in messages %}{{ m['role'] }} : {{ m['content'] }} [EOS] {% endfor %}"
            "{% if add_generation_prompt %}assistant : {% endif %}"
        )
    special_ids: dict[str, Any] = {
        "pad_token_id": vocab["[PAD]"],
        "bos_token_id": vocab["[BOS]"],
        "eos_token_id": vocab["[EOS]"],
    }
    torch.manual_seed(seed)
    model: Any
    if architecture == "llama":
        from transformers import LlamaConfig, LlamaForCausalLM

        model = LlamaForCausalLM(
            LlamaConfig(
                vocab_size=len(vocab),
                hidden_size=hidden_size,
                intermediate_size=2 * hidden_size,
                num_hidden_layers=layers,
                num_attention_heads=4,
                num_key_value_heads=2,
                max_position_embeddings=max_positions,
                **special_ids,
            )
        )
    elif architecture == "gpt2":
        from transformers import GPT2Config, GPT2LMHeadModel

        model = GPT2LMHeadModel(
            GPT2Config(
                vocab_size=len(vocab),
                n_embd=hidden_size,
                n_layer=layers,
                n_head=4,
                n_positions=max_positions,
                **special_ids,
            )
        )
    else:
        raise ValueError(f"unknown architecture {architecture!r}; use llama or gpt2")
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder
