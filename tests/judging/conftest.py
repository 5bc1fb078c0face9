"""Fixtures for the judge backends: a loopback OpenAI-compatible server and a tiny local model.

The tiny model is a randomly initialised Llama with a word-level tokenizer, both built here and
saved to a temporary folder, so the ``local`` backend's real loading code runs without any
download.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from apps.judging.fake_server import FakeOpenAIServer, FakeServerConfig, running_fake_server
from apps.judging.prompting import make_request
from apps.judging.types import JudgeRequest, Order, PairText
from apps.rubrics.spec import CriterionSpec, RubricSpec

RUBRIC = RubricSpec(
    instructions="Prefer the response that answers the prompt correctly and concisely.",
    criteria=(
        CriterionSpec(key="correct", title="Correctness", description="Facts are right.", weight=2),
        CriterionSpec(key="concise", title="Concision", description="No padding."),
    ),
)

PAIRS = (
    PairText(prompt="What is the capital of France?", response_a="Paris.", response_b="Lyon."),
    PairText(prompt="Add two and two.", response_a="Four.", response_b="It is four, clearly."),
    PairText(prompt="Name a prime number.", response_a="Nine.", response_b="Seven."),
    PairText(prompt="Is water wet?", response_a="Yes, mostly.", response_b="Yes."),
    PairText(prompt="Say hello.", response_a="Hello!", response_b="Hi there, hello."),
    PairText(prompt="Spell cat.", response_a="C A T.", response_b="K A T."),
)


def build_requests(
    count: int, *, mode: str = "verdict", orders: tuple[Order, ...] = ("AB", "BA")
) -> list[JudgeRequest]:
    """``count`` requests over the sample pairs, both orders, rendered by the real renderer."""
    rubric = RubricSpec(
        instructions=RUBRIC.instructions, criteria=RUBRIC.criteria, output_format=mode
    )
    requests: list[JudgeRequest] = []
    index = 0
    while len(requests) < count:
        pair = PAIRS[index % len(PAIRS)]
        numbered = PairText(
            prompt=f"{pair.prompt} (case {index})",
            response_a=pair.response_a,
            response_b=pair.response_b,
        )
        for order in orders:
            if len(requests) < count:
                requests.append(
                    make_request(
                        key=f"pair-{index}:{order}", rubric=rubric, pair=numbered, order=order
                    )
                )
        index += 1
    return requests


@pytest.fixture
def make_requests() -> Callable[..., list[JudgeRequest]]:
    """Builds judge requests: ``make_requests(n, mode="verdict")``."""
    return build_requests


@pytest.fixture
def fake_server() -> Iterator[FakeOpenAIServer]:
    """A fresh loopback server, no latency, no faults; tests reconfigure it with ``configure``."""
    with running_fake_server(FakeServerConfig()) as server:
        yield server


# -- the tiny local model -------------------------------------------------------------------


def _vocabulary() -> list[str]:
    """Every word of the rendered test requests, the verdict tokens and the template's words."""
    from tokenizers import pre_tokenizers

    splitter = pre_tokenizers.Whitespace()
    texts = ["[[A]] [[B]] [[C]] tie system user assistant :", '{"verdict": "A"}']
    for mode in ("verdict", "reasoned"):
        for request in build_requests(2 * len(PAIRS), mode=mode):
            texts.extend(m["content"] for m in request.messages)
    words = [word for text in texts for word, _ in splitter.pre_tokenize_str(text)]
    return list(dict.fromkeys(words))


def build_tiny_model(
    folder: Path, *, chat_template: bool, seed: int = 0, architecture: str = "llama"
) -> Path:
    """Save a tiny random causal LM and a word-level tokenizer in ``folder``; returns it."""
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    specials = ["[PAD]", "[UNK]", "[BOS]", "[EOS]"]
    vocab = {token: i for i, token in enumerate(specials + _vocabulary())}
    core = Tokenizer(models.WordLevel(vocab=vocab, unk_token="[UNK]"))
    core.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=core,
        unk_token="[UNK]",
        pad_token="[PAD]",
        bos_token="[BOS]",
        eos_token="[EOS]",
    )
    if chat_template:
        tokenizer.chat_template = (
            "{% for m in messages %}{{ m['role'] }} : {{ m['content'] }} [EOS] {% endfor %}"
            "{% if add_generation_prompt %}assistant : {% endif %}"
        )
    torch.manual_seed(seed)
    if architecture == "llama":
        from transformers import LlamaConfig, LlamaForCausalLM

        config = LlamaConfig(
            vocab_size=len(vocab),
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=2,
            max_position_embeddings=1024,
            pad_token_id=vocab["[PAD]"],
            bos_token_id=vocab["[BOS]"],
            eos_token_id=vocab["[EOS]"],
        )
        model: torch.nn.Module = LlamaForCausalLM(config)
    else:
        from transformers import GPT2Config, GPT2LMHeadModel

        gpt2 = GPT2Config(
            vocab_size=len(vocab),
            n_embd=32,
            n_layer=2,
            n_head=4,
            n_positions=1024,
            pad_token_id=vocab["[PAD]"],
            bos_token_id=vocab["[BOS]"],
            eos_token_id=vocab["[EOS]"],
        )
        model = GPT2LMHeadModel(gpt2)
    model.save_pretrained(folder)  # type: ignore[operator]
    tokenizer.save_pretrained(folder)
    (folder / "built_by_test.json").write_text(json.dumps({"seed": seed, "arch": architecture}))
    return folder


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny Llama with a chat template, saved once per test session."""
    pytest.importorskip("torch", reason="the local backend needs torch (requirements-gpu.txt)")
    pytest.importorskip("transformers", reason="the local backend needs transformers")
    return build_tiny_model(tmp_path_factory.mktemp("tiny-llama"), chat_template=True)


@pytest.fixture(scope="session")
def tiny_plain_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny GPT-2 whose tokenizer has no chat template (plain concatenation path)."""
    pytest.importorskip("torch", reason="the local backend needs torch (requirements-gpu.txt)")
    pytest.importorskip("transformers", reason="the local backend needs transformers")
    return build_tiny_model(
        tmp_path_factory.mktemp("tiny-gpt2"), chat_template=False, seed=1, architecture="gpt2"
    )
