"""The seams through which other apps take part in publishing and promoting rubric versions.

The rubrics app imports none of the apps that react to its versions. It announces what happens
through signals, and asks registered functions when it needs an answer, so an app that is not
installed simply never answers. Apps connect in their ``AppConfig.ready()``:

* ``version_published`` (a signal, sent after the publish has committed, ``version_id=``): the
  drift app starts the version's drift checks.
* ``label_moved`` (a signal, sent inside the promotion's transaction, under the rubric's row
  lock, with ``rubric``, ``version``, ``label``, ``previous`` and ``actor``): a receiver that
  raises undoes the move, so what it writes is consistent with the label.
* promotion checks (:func:`register_promotion_check`): asked, under the same lock and in the
  same transaction as the move, whether a version may take a label. The first refusal wins.
* version status (:func:`register_version_status`): where a version stands with a gate, as the
  badge the rubric list, the history and the version page show.
* version panels (:func:`register_version_panel`): a block the version page shows under its
  heading (the drift check of a newly published version, polled until it is decided).
* sample reference set (:func:`register_sample_reference_set`): which reference snapshot the
  judge-prompt preview takes its sample pair from.
* prompt preview (:func:`register_prompt_preview`): the judging app renders a version's judge
  prompt for a sample pair, as the editor shows it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.dispatch import Signal

version_published = Signal()
label_moved = Signal()


@dataclass(frozen=True)
class PromotionRefusal:
    """Why a label may not move: the reason (shown as is), a machine code and related links.

    ``follow_up``, when set, is called once the refused promotion's transaction has ended and the
    rubric's lock is released (so it may start work of its own, such as a new drift check) and
    returns the refusal to show instead, typically with a link to what it started.
    """

    reason: str
    code: str = "promotion_refused"
    links: dict[str, str] = field(default_factory=dict)
    follow_up: Callable[[], PromotionRefusal] | None = None

    def payload(self) -> dict[str, Any]:
        """The JSON body of the 409 answer."""
        body: dict[str, Any] = {"detail": self.reason, "code": self.code}
        if self.links:
            body["links"] = dict(self.links)
        return body


@dataclass
class Preview:
    """The exact judge prompt for a sample pair, its token estimate, or why it cannot render."""

    text: str
    tokens: int
    source: str
    error: str = ""


@dataclass(frozen=True)
class VersionGate:
    """Where a version stands with a gate, shown as a badge: the words (shown as is, never
    colour alone), a badge style and whether the state is final (nothing running changes it)."""

    words: str
    badge: str = ""
    final: bool = True


@dataclass(frozen=True)
class VersionPanel:
    """A block of the version page: a template and its context. The template owns its polling:
    while its state is not final it asks its own URL again (htmx), then stops."""

    template: str
    context: dict[str, Any] = field(default_factory=dict)


# (rubric, version, label, production) -> refusal or None; ``production`` is the version the
# production label points at, read under the lock.
PromotionCheck = Callable[..., "PromotionRefusal | None"]
VersionStatus = Callable[[Any], "VersionGate | None"]
VersionPanelSource = Callable[[Any], "VersionPanel | None"]
SampleReferenceSet = Callable[[Any], "int | None"]
PromptPreview = Callable[..., Preview]

_PROMOTION_CHECKS: list[PromotionCheck] = []
_VERSION_STATUS: list[VersionStatus] = []
_VERSION_PANELS: list[VersionPanelSource] = []
_SAMPLE_SOURCES: list[SampleReferenceSet] = []
_PROMPT_PREVIEWS: list[PromptPreview] = []


def _register(registry: list[Any], function: Any) -> Any:
    # ready() may run twice in some test set-ups; a function is registered once.
    if function not in registry:
        registry.append(function)
    return function


def register_promotion_check(check: PromotionCheck) -> PromotionCheck:
    """Decorator: ``check(*, rubric, version, label, production)`` may refuse a label move."""
    return _register(_PROMOTION_CHECKS, check)


def register_version_status(function: VersionStatus) -> VersionStatus:
    """Decorator: ``function(version)`` says where a version stands (None: no opinion)."""
    return _register(_VERSION_STATUS, function)


def register_version_panel(function: VersionPanelSource) -> VersionPanelSource:
    """Decorator: ``function(version)`` gives a block for the version page (None: nothing)."""
    return _register(_VERSION_PANELS, function)


def register_sample_reference_set(function: SampleReferenceSet) -> SampleReferenceSet:
    """Decorator: ``function(rubric)`` names the reference set the preview samples from."""
    return _register(_SAMPLE_SOURCES, function)


def register_prompt_preview(function: PromptPreview) -> PromptPreview:
    """Decorator: ``function(*, version, order)`` renders the version's judge prompt."""
    return _register(_PROMPT_PREVIEWS, function)


def promotion_refusal(
    *, rubric: Any, version: Any, label: str, production: Any
) -> PromotionRefusal | None:
    """The first registered check's refusal of this label move, or None when all agree."""
    for check in _PROMOTION_CHECKS:
        refusal = check(rubric=rubric, version=version, label=label, production=production)
        if refusal is not None:
            return refusal
    return None


def version_status(version: Any) -> VersionGate | None:
    """The first registered status of ``version``, or None."""
    for function in _VERSION_STATUS:
        status = function(version)
        if status is not None:
            return status
    return None


def version_panels(version: Any) -> list[VersionPanel]:
    """Every registered block the version page shows for ``version``, in registration order."""
    panels = (function(version) for function in _VERSION_PANELS)
    return [panel for panel in panels if panel is not None]


def sample_reference_set_id(rubric: Any) -> int | None:
    """The reference set a registered source names for the rubric's preview, or None."""
    for function in _SAMPLE_SOURCES:
        found = function(rubric)
        if found is not None:
            return found
    return None


def prompt_preview(*, version: Any, order: str) -> Preview:
    """The judge prompt of ``version`` as the registered renderer shows it."""
    for function in _PROMPT_PREVIEWS:
        return function(version=version, order=order)
    return Preview(text="", tokens=0, source="", error="No judge renders prompts here.")
