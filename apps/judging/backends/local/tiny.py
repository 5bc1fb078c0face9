"""A tiny randomly initialised model saved to a folder, for tests and benchmarks."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any


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
