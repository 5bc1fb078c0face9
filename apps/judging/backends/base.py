"""The judge backend interface and its registry.

Every backend answers a batch of requests at once: the OpenAI-compatible backend runs them
concurrently over HTTP, the local backend in batched forward passes, the offline judge in a loop.
Backends are registered by name (``openai``, ``local``, ``offline``) so a judge config names one.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

from apps.judging.types import JudgeRequest, JudgeResult


@dataclass(frozen=True)
class BackendConfig:
    """What a backend needs from a judge config; the API key is resolved from the environment."""

    backend: str
    model: str = ""
    base_url: str = ""
    api_key: str | None = field(default=None, repr=False)  # never shown in logs
    params: dict[str, Any] = field(default_factory=dict)
    concurrency: int = 8
    requests_per_minute: int | None = None
    tokens_per_minute: int | None = None


class JudgeBackend(abc.ABC):
    """A judge: turns a batch of requests into one result per request, in the same order.

    ``judge_batch`` never raises for a single failed request: that request's result carries
    verdict ``invalid`` and an ``error``. It raises only when the whole batch cannot run (the
    chunk task then retries).
    """

    name: ClassVar[str]

    def __init__(self, config: BackendConfig) -> None:
        self.config = config

    @abc.abstractmethod
    def judge_batch(self, requests: Sequence[JudgeRequest]) -> list[JudgeResult]:
        """Judge every request; results are returned in the order of ``requests``."""

    def close(self) -> None:  # noqa: B027 - optional hook, most backends hold nothing
        """Release held resources (connections, models)."""


_REGISTRY: dict[str, type[JudgeBackend]] = {}
B = TypeVar("B", bound=type[JudgeBackend])


def register(name: str) -> Callable[[B], B]:
    """Class decorator: make a backend available under ``name``."""

    def decorate(cls: B) -> B:
        cls.name = name
        _REGISTRY[name] = cls
        return cls

    return decorate


def backend_class(name: str) -> type[JudgeBackend]:
    """The backend class registered as ``name`` (importing the built-in backends on first use)."""
    from apps.judging import backends  # noqa: F401 - registers the built-in backends

    try:
        return _REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown judge backend {name!r}; known: {sorted(_REGISTRY)}") from None
