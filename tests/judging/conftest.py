"""Fixtures for the judge backends: a loopback OpenAI-compatible server and tiny local models.

The tiny models are randomly initialised (a Llama with a chat template, a GPT-2 without), with
a word-level tokenizer over the test texts, saved to a temporary folder once per session, so
the ``local`` backend's real loading code runs without any download.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from apps.judging.prompting import make_request
from apps.judging.types import JudgeRequest, Order, PairText
from apps.rubrics.spec import CriterionSpec, RubricSpec
from tests.fake_openai_server import FakeOpenAIServer, FakeServerConfig, running_fake_server

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


def _texts() -> list[str]:
    """Every text of the rendered test requests, so the tiny tokenizer knows their words."""
    texts: list[str] = []
    for mode in ("verdict", "reasoned"):
        for request in build_requests(2 * len(PAIRS), mode=mode):
            texts.extend(m["content"] for m in request.messages)
    return texts


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny Llama with a chat template, saved once per test session."""
    pytest.importorskip("torch", reason="the local backend needs torch (requirements-gpu.txt)")
    pytest.importorskip("transformers", reason="the local backend needs transformers")
    from apps.judging.backends.local import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny-llama"), _texts(), chat_template=True)


@pytest.fixture(scope="session")
def tiny_plain_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny GPT-2 whose tokenizer has no chat template (plain concatenation path)."""
    pytest.importorskip("torch", reason="the local backend needs torch (requirements-gpu.txt)")
    pytest.importorskip("transformers", reason="the local backend needs transformers")
    from apps.judging.backends.local import build_tiny_model

    return build_tiny_model(
        tmp_path_factory.mktemp("tiny-gpt2"),
        _texts(),
        chat_template=False,
        seed=1,
        architecture="gpt2",
    )
