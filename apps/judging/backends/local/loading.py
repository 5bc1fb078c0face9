"""Loading a local model once per process: device, dtype, engine, and the cache of loaded models."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any


@dataclass
class SharedPrefix:
    """The key/value cache of a token prefix that every prompt of a run starts with."""

    ids: tuple[int, ...]
    cache: Any


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
