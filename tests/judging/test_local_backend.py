"""The ``local`` backend on the CPU, with tiny random models built by the fixtures (no download).

A random model's verdicts mean nothing; what is tested is the machinery: loading once per
process, rendering, batching with left padding, reading the verdict tokens' logits, and the
mapping from letters to shown verdicts (checked by steering the real model's output layer).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

torch = pytest.importorskip("torch", reason="the local backend needs torch (requirements-gpu.txt)")
pytest.importorskip("transformers", reason="the local backend needs transformers")

from apps.judging.backends.base import BackendConfig, backend_class  # noqa: E402
from apps.judging.backends.local import (  # noqa: E402
    LocalBackend,
    load_model,
    render_prompt,
    unload_models,
    verdict_token_ids,
)
from apps.judging.prompting import make_request  # noqa: E402
from apps.judging.types import JudgeRequest, JudgeResult, PairText  # noqa: E402

from .conftest import RUBRIC  # noqa: E402

MakeRequests = Callable[..., list[JudgeRequest]]


def backend(model_dir: Path, **params: object) -> LocalBackend:
    config = BackendConfig(
        backend="local",
        model=str(model_dir),
        params={"device": "cpu", "dtype": "float32", **params},
    )
    instance = backend_class("local")(config)
    assert isinstance(instance, LocalBackend)
    return instance


@contextmanager
def steered(model_dir: Path, word: str, boost: float = 50.0) -> Iterator[None]:
    """Add ``boost`` to one verdict token's logit in the real model's output layer."""
    loaded = load_model(str(model_dir), device="cpu", dtype="float32")
    [token_id] = verdict_token_ids(loaded.tokenizer, "[[", [word])

    def hook(_module: object, _inputs: object, output: torch.Tensor) -> torch.Tensor:
        output = output.clone()
        output[..., token_id] += boost
        return output

    handle = loaded.model.get_output_embeddings().register_forward_hook(hook)
    try:
        yield
    finally:
        handle.remove()


def assert_same(a: list[JudgeResult], b: list[JudgeResult]) -> None:
    assert [r.key for r in a] == [r.key for r in b]
    for x, y in zip(a, b, strict=True):
        assert x.verdict == y.verdict
        assert x.p_first == pytest.approx(y.p_first, abs=1e-5)


def test_batch_results_are_valid_and_in_request_order(
    tiny_model_dir: Path, make_requests: MakeRequests
) -> None:
    requests = make_requests(12)
    results = backend(tiny_model_dir).judge_batch(requests)
    assert [r.key for r in results] == [r.key for r in requests]
    for result in results:
        assert result.verdict in ("first", "second", "tie")
        assert result.p_first is not None and 0.0 <= result.p_first <= 1.0
        probs = result.extra["verdict_probs"]
        assert sum(probs.values()) == pytest.approx(1.0)
        # The verdict is the most likely verdict token.
        assert max(probs, key=probs.get) == result.verdict
        assert result.raw_output in ("A", "B", "C")
        assert result.tokens_in > 50
        assert result.error == ""


def test_results_are_deterministic(tiny_model_dir: Path, make_requests: MakeRequests) -> None:
    requests = make_requests(8)
    assert_same(
        backend(tiny_model_dir).judge_batch(requests), backend(tiny_model_dir).judge_batch(requests)
    )


@pytest.mark.parametrize("fixture", ["tiny_model_dir", "tiny_plain_model_dir"])
def test_batched_equals_one_at_a_time(
    fixture: str, request: pytest.FixtureRequest, make_requests: MakeRequests
) -> None:
    model_dir: Path = request.getfixturevalue(fixture)
    # Prompts of different lengths, so batches really are padded.
    requests = make_requests(10)
    lengths = {sum(len(m["content"]) for m in r.messages) for r in requests}
    assert len(lengths) > 3
    batched = backend(model_dir, batch_size=10).judge_batch(requests)
    single = backend(model_dir, batch_size=1).judge_batch(requests)
    one_by_one = [backend(model_dir).judge_batch([r])[0] for r in requests]
    assert_same(batched, single)
    assert_same(batched, one_by_one)


def test_model_is_loaded_once_per_process(tiny_model_dir: Path) -> None:
    unload_models()
    first = backend(tiny_model_dir).loaded()
    second = backend(tiny_model_dir, batch_size=2).loaded()
    assert first is second
    assert first.model is load_model(str(tiny_model_dir), device="cpu", dtype="float32").model
    unload_models()
    assert backend(tiny_model_dir).loaded() is not first


@pytest.mark.parametrize(("word", "verdict"), [("A", "first"), ("B", "second"), ("C", "tie")])
def test_letters_map_to_shown_verdicts(
    word: str, verdict: str, tiny_model_dir: Path, make_requests: MakeRequests
) -> None:
    requests = make_requests(4)
    with steered(tiny_model_dir, word):
        results = backend(tiny_model_dir).judge_batch(requests)
    assert {r.verdict for r in results} == {verdict}
    for result in results:
        assert result.p_first is not None
        if verdict == "first":
            assert result.p_first > 0.99
        elif verdict == "second":
            assert result.p_first < 0.01
        else:
            # Nearly all mass on the tie, which counts half for each side.
            assert result.p_first == pytest.approx(0.5, abs=0.01)


def test_tie_can_be_disallowed(tiny_model_dir: Path, make_requests: MakeRequests) -> None:
    requests = make_requests(4)
    with steered(tiny_model_dir, "C"):
        results = backend(tiny_model_dir, allow_tie=False).judge_batch(requests)
    assert all(r.verdict in ("first", "second") for r in results)
    assert all("tie" not in r.extra["verdict_probs"] for r in results)


def test_reasoned_mode_reads_the_json_verdict_value(
    tiny_model_dir: Path, make_requests: MakeRequests
) -> None:
    loaded = load_model(str(tiny_model_dir), device="cpu", dtype="float32")
    [tie_id] = verdict_token_ids(loaded.tokenizer, '{"verdict": "', ["tie"])

    def hook(_module: object, _inputs: object, output: torch.Tensor) -> torch.Tensor:
        output = output.clone()
        output[..., tie_id] += 50.0
        return output

    handle = loaded.model.get_output_embeddings().register_forward_hook(hook)
    try:
        results = backend(tiny_model_dir).judge_batch(make_requests(4, mode="reasoned"))
    finally:
        handle.remove()
    assert {r.verdict for r in results} == {"tie"}
    assert {r.raw_output for r in results} == {"tie"}


def test_chat_template_or_plain_concatenation(
    tiny_model_dir: Path, tiny_plain_model_dir: Path, make_requests: MakeRequests
) -> None:
    [request] = make_requests(1)
    system, user = request.messages
    templated = render_prompt(
        load_model(str(tiny_model_dir), device="cpu").tokenizer, request.messages, "[["
    )
    assert templated.startswith("system : " + system["content"][:20])
    assert templated.endswith("assistant : [[")
    plain = render_prompt(
        load_model(str(tiny_plain_model_dir), device="cpu").tokenizer, request.messages, "[["
    )
    assert plain == system["content"] + "\n\n" + user["content"] + "\n\n[["


def test_verdict_tokens_must_follow_the_prefix_as_separate_tokens(tiny_model_dir: Path) -> None:
    tokenizer = load_model(str(tiny_model_dir), device="cpu").tokenizer
    ids = verdict_token_ids(tokenizer, "[[", ["A", "B", "C"])
    assert len(set(ids)) == 3
    assert tokenizer.convert_ids_to_tokens(list(ids)) == ["A", "B", "C"]
    with pytest.raises(ValueError, match="not a separate token"):
        verdict_token_ids(tokenizer, "[", ["[A"])
    with pytest.raises(ValueError, match="share a first token"):
        verdict_token_ids(tokenizer, "[[", ["A", "A"])


def test_prompt_longer_than_the_model_is_invalid_not_a_crash(tiny_model_dir: Path) -> None:
    long_pair = PairText(prompt="hello " * 1200, response_a="Paris.", response_b="Lyon.")
    short_pair = PairText(prompt="Say hello.", response_a="Hello!", response_b="Hi.")
    requests = [
        make_request(key="long:AB", rubric=RUBRIC, pair=long_pair, order="AB"),
        make_request(key="short:AB", rubric=RUBRIC, pair=short_pair, order="AB"),
    ]
    long_result, short_result = backend(tiny_model_dir).judge_batch(requests)
    assert long_result.verdict == "invalid"
    assert "exceeds the model's 1024" in long_result.error
    assert short_result.verdict != "invalid"


@pytest.mark.parametrize("fixture", ["tiny_model_dir", "tiny_plain_model_dir"])
def test_shared_prefix_cache_gives_the_same_results(
    fixture: str, request: pytest.FixtureRequest, make_requests: MakeRequests
) -> None:
    model_dir: Path = request.getfixturevalue(fixture)
    requests = make_requests(10)
    unload_models()
    with_prefix = backend(model_dir, batch_size=4).judge_batch(requests)
    loaded = load_model(str(model_dir), device="cpu", dtype="float32")
    # The rubric's system text is shared by every request, so the prefix is long.
    assert loaded.prefix is not None
    system_tokens = len(loaded.tokenizer(requests[0].messages[0]["content"])["input_ids"])
    assert len(loaded.prefix.ids) >= system_tokens
    # A single request reuses the stored prefix.
    single = backend(model_dir).judge_batch(requests[:1])
    without = backend(model_dir, batch_size=4, prefix_cache=False).judge_batch(requests)
    assert_same(with_prefix, without)
    assert_same(single, without[:1])
