"""Cache keys and money, without a database."""

from __future__ import annotations

from decimal import Decimal

from apps.judging.accounting import cache_key, judge_fingerprint, token_cost

MESSAGES = (
    {"role": "system", "content": "Rubric: be helpful."},
    {"role": "user", "content": "[Prompt]\nHi\n[A]\nHello\n[B]\nHey"},
)


def test_the_key_changes_with_whatever_the_judge_would_see() -> None:
    fp = judge_fingerprint(backend="openai", model="m", params={"temperature": 0})
    key = cache_key(messages=MESSAGES, fingerprint=fp, order="AB")
    assert len(key) == 64
    assert key == cache_key(messages=[dict(m) for m in MESSAGES], fingerprint=fp, order="AB")
    assert key != cache_key(messages=MESSAGES, fingerprint=fp, order="BA")
    edited = (MESSAGES[0] | {"content": "Rubric: be brief."}, MESSAGES[1])
    assert key != cache_key(messages=edited, fingerprint=fp, order="AB")
    for other in (
        judge_fingerprint(backend="openai", model="m2", params={"temperature": 0}),
        judge_fingerprint(backend="offline", model="m", params={"temperature": 0}),
        judge_fingerprint(backend="openai", model="m", params={"temperature": 0.7}),
    ):
        assert key != cache_key(messages=MESSAGES, fingerprint=other, order="AB")


def test_transport_params_do_not_change_the_key() -> None:
    base = judge_fingerprint(backend="openai", model="m", params={"temperature": 0})
    tuned = judge_fingerprint(
        backend="openai",
        model="m",
        params={"max_attempts": 9, "temperature": 0, "timeout_s": 5, "chunk_size": 100},
    )
    assert base == tuned


def test_cost_is_tokens_times_price_per_million() -> None:
    assert token_cost(1_000_000, 0, Decimal("2.5"), Decimal("10")) == Decimal("2.500000")
    assert token_cost(1000, 500, Decimal("2.5"), Decimal("10")) == Decimal("0.007500")
    assert token_cost(1000, 500, None, None) == Decimal(0)
    assert token_cost(3, 0, Decimal("1"), None) == Decimal("0.000003")


def test_message_boundaries_are_part_of_the_key() -> None:
    fp = judge_fingerprint(backend="offline", model="", params={})
    one = [{"role": "user", "content": "ab"}]
    split = [{"role": "user", "content": "a"}, {"role": "b", "content": ""}]
    assert cache_key(messages=one, fingerprint=fp, order="AB") != cache_key(
        messages=split, fingerprint=fp, order="AB"
    )
