"""Judge configs: their checks against the operator's policy, creating and saving them, and the
per-process backend instance each one is judged with."""

from __future__ import annotations

import logging
import re
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from apps.accounts.models import Project
from apps.core.services import audit_event_record
from apps.judging import judge_policy
from apps.judging.backends.base import BackendConfig, JudgeBackend, backend_class
from apps.judging.models import (
    Backend,
    JudgeConfig,
)
from apps.judging.options import option_errors
from apps.judging.types import Mode

log = logging.getLogger(__name__)


# The demo judge's label wherever a judge is shown: it is not a language-model judge.
DEMO_JUDGE_LABEL = "demo/test judge"
ENV_NAME_RE = re.compile(r"^[A-Z_][A-Z0-9_]{0,99}$")
# Keys that would put a secret into a judge's params (stored in clear, shown in the API).
SECRET_PARAM_NAMES = frozenset(
    {"api_key", "apikey", "key", "secret", "password", "token", "access_token", "authorization"}
)


def judge_label(judge: JudgeConfig) -> str:
    """How a judge is named in pages and exports; the offline judge is marked as a demo judge."""
    if judge.backend == Backend.OFFLINE:
        return f"{judge.name} ({DEMO_JUDGE_LABEL})"
    return judge.name


def judge_config_errors(
    *, backend: str, model: str, api_key_env: str, params: Any, base_url: str = ""
) -> dict[str, list[str]]:
    """Field errors of a judge config (shared by the form, the API, the admin and the service).

    Besides the shape of each field, the operator's policy (``judge_policy``): a declared key
    with an endpoint allowed for it, an allowed endpoint, a local model the operator offers.
    """
    errors: dict[str, list[str]] = {}
    if backend not in Backend.values:
        errors["backend"] = [f"Choose one of {', '.join(Backend.values)}."]
    if backend in (Backend.OPENAI, Backend.LOCAL) and not model.strip():
        errors["model"] = ["A model name (or, for a local model, its path) is required."]
    if api_key_env and not ENV_NAME_RE.match(api_key_env):
        errors["api_key_env"] = [
            "The name of an environment variable (capitals, digits, underscores), never a key."
        ]
    if not isinstance(params, dict):
        errors["params"] = ["A JSON object."]
    else:
        secret = sorted(k for k in params if str(k).lower() in SECRET_PARAM_NAMES)
        if secret:
            errors["params"] = [
                f"Remove {', '.join(secret)}: keys are never stored; name the environment "
                "variable that holds it in api_key_env."
            ]
        options = option_errors(params)
        if options:
            errors.setdefault("params", []).extend(options)
    if "backend" not in errors and "api_key_env" not in errors:
        for field, messages in judge_policy.config_errors(
            backend=backend, model=model, base_url=base_url, api_key_env=api_key_env, params=params
        ).items():
            errors.setdefault(field, []).extend(messages)
    return errors


def _judge_audit_state(judge: JudgeConfig) -> dict[str, Any]:
    """What the audit log keeps of a judge config: everything but the prices' precision."""
    return {
        "name": judge.name,
        "backend": judge.backend,
        "model": judge.model,
        "base_url": judge.base_url,
        "api_key_env": judge.api_key_env,
        "params": judge.params,
        "concurrency": judge.concurrency,
    }


@transaction.atomic
def judge_config_create(
    *,
    actor: Any,
    project: Project,
    name: str,
    backend: str,
    model: str = "",
    base_url: str = "",
    api_key_env: str = "",
    params: dict[str, Any] | None = None,
    concurrency: int = 8,
    requests_per_minute: int | None = None,
    tokens_per_minute: int | None = None,
    price_in: Decimal | None = None,
    price_out: Decimal | None = None,
) -> JudgeConfig:
    """Create a judge config. The API key itself is never stored: only its variable's name."""
    params = {} if params is None else params
    errors = judge_config_errors(
        backend=backend, model=model, api_key_env=api_key_env, params=params, base_url=base_url
    )
    if JudgeConfig.objects.filter(project=project, name=name).exists():
        errors.setdefault("name", []).append("A judge with this name already exists.")
    if errors:
        raise ValidationError(errors)
    judge = JudgeConfig(
        project=project,
        name=name,
        backend=backend,
        model=model,
        base_url=base_url,
        api_key_env=api_key_env,
        params=params,
        concurrency=concurrency,
        requests_per_minute=requests_per_minute,
        tokens_per_minute=tokens_per_minute,
        price_in=price_in,
        price_out=price_out,
    )
    judge.full_clean()
    judge.save()
    audit_event_record(
        actor=actor, action="judge.create", obj=judge, after=_judge_audit_state(judge)
    )
    return judge


@transaction.atomic
def judge_config_save(*, actor: Any, judge: JudgeConfig) -> JudgeConfig:
    """Save a changed judge config (the site admin), checked like a new one and audited.

    The state before the change is read from the database, so the audit event shows both.
    """
    errors = judge_config_errors(
        backend=judge.backend,
        model=judge.model,
        api_key_env=judge.api_key_env,
        params=judge.params,
        base_url=judge.base_url,
    )
    if errors:
        raise ValidationError(errors)
    previous = JudgeConfig.objects.filter(pk=judge.pk).first() if judge.pk else None
    judge.full_clean()
    judge.save()
    audit_event_record(
        actor=actor,
        action="judge.change" if previous is not None else "judge.create",
        obj=judge,
        before=_judge_audit_state(previous) if previous is not None else None,
        after=_judge_audit_state(judge),
    )
    return judge


# The backend instance of each judge config, per process: a local model is loaded once per GPU
# worker process, an HTTP backend keeps what it learned about its server. Keyed by the config's
# id and its fields (``judge_policy.backend_fingerprint``), so an edited config gets a fresh one.
_BACKENDS: dict[int, tuple[Any, JudgeBackend]] = {}


def judge_backend(judge: JudgeConfig) -> JudgeBackend:
    """The cached backend instance for ``judge`` in this process (created on first use).

    Raises ``judge_policy.JudgeRefused`` when the operator's policy refuses the config as it is.
    """
    stamp = judge_policy.backend_fingerprint(judge)
    cached = _BACKENDS.get(judge.pk)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    if cached is not None:
        cached[1].close()
    # Every backend, in a run or outside one (red team, attribution), is built from a row that
    # passes the operator's policy as it is now: a config changed in the database after its
    # creation never gets a key it may not have or an endpoint it may not reach. Then the policy
    # module builds it: the key is read only for a declared name, and a local model's location,
    # device and trust_remote_code are the operator's.
    judge_policy.require_allowed(judge)
    config = judge_policy.backend_config(judge)
    backend = backend_class(judge.backend)(config)
    _BACKENDS[judge.pk] = (stamp, backend)
    return backend


def backend_config_for(judge: JudgeConfig) -> BackendConfig:
    """What a backend needs from ``judge``, as the operator's policy builds it for a run."""
    return judge_policy.backend_config(judge)


def judge_mode(judge: JudgeConfig) -> Mode | None:
    mode = judge.params.get("mode")
    return mode if mode in ("verdict", "reasoned") else None
