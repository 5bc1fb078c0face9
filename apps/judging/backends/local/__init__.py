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

from apps.judging.backends.local.backend import LocalBackend
from apps.judging.backends.local.loading import (
    LoadedModel,
    SharedPrefix,
    load_model,
    resolve_device,
    unload_models,
    vllm_available,
)
from apps.judging.backends.local.prompts import render_prompt, verdict_token_ids
from apps.judging.backends.local.scoring import common_prefix_length, shared_prefix
from apps.judging.backends.local.tiny import build_tiny_model

__all__ = [
    "LoadedModel",
    "LocalBackend",
    "SharedPrefix",
    "build_tiny_model",
    "common_prefix_length",
    "load_model",
    "render_prompt",
    "resolve_device",
    "shared_prefix",
    "unload_models",
    "verdict_token_ids",
    "vllm_available",
]
