"""What a judge config may make a worker do: which key, which endpoint, which local model.

Authors write judge configs; workers act on them with the operator's secrets, network and
disk. Everything an author controls is checked here against the operator's settings (see
``apps.core.egress`` for keys, endpoints and addresses):

* at creation (``config_errors``, shared by the form, the API and the service), with the
  field named;
* again by the worker before every batch of calls (``worker_refusal``), because rows can be
  changed in the admin or the database: a refused config fails its run with the reason and
  nothing is sent;
* and the backend's configuration is built here (``backend_config``), so the key is read from
  the environment only after the checks, a local model's path, device and
  ``trust_remote_code`` come from the operator, and the endpoint is always explicit.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from django.conf import settings

from apps.core import egress
from apps.judging.backends.base import BackendConfig
from apps.judging.models import Backend, JudgeConfig

# Params only the operator sets for a local model: code execution and hardware.
OPERATOR_LOCAL_PARAMS = frozenset({"trust_remote_code", "device"})
# A model name an author may give: a folder name (or org/name), nothing that climbs or roots.
MODEL_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}(/[A-Za-z0-9][A-Za-z0-9._-]{0,99})?$")


def _models_dir() -> Path | None:
    raw = str(settings.RUBRICSTUDIO_MODELS_DIR or "")
    return Path(raw).resolve() if raw else None


def local_model_choices() -> list[str]:
    """The local models an author may pick: the hub ids listed and the folders of the dir."""
    names = [str(n) for n in settings.RUBRICSTUDIO_LOCAL_MODELS]
    folder = _models_dir()
    if folder is not None and folder.is_dir():
        names += sorted(p.name for p in folder.iterdir() if p.is_dir())
    return list(dict.fromkeys(names))


def local_model_location(name: str) -> str | None:
    """Where the worker loads the local model ``name`` from, or ``None`` when not allowed.

    A subfolder of ``RUBRICSTUDIO_MODELS_DIR`` (its resolved path must stay inside the
    folder: no ``..``, no absolute path, no symlink out), else a hub id the operator listed.
    """
    folder = _models_dir()
    if folder is not None and MODEL_NAME_RE.match(name):
        candidate = (folder / name).resolve()
        if candidate.is_dir() and candidate.is_relative_to(folder) and candidate != folder:
            return str(candidate)
    if name in [str(n) for n in settings.RUBRICSTUDIO_LOCAL_MODELS]:
        return name
    return None


def trust_remote_code_for(name: str) -> bool:
    """Whether the operator allows the model ``name`` to run its own code."""
    return name in [str(n) for n in settings.RUBRICSTUDIO_TRUST_REMOTE_CODE_MODELS]


def config_errors(
    *, backend: str, model: str, base_url: str, api_key_env: str, params: Any
) -> dict[str, list[str]]:
    """Field errors of a config's key, endpoint and local model under the operator's policy."""
    errors: dict[str, list[str]] = {}
    if backend == Backend.OPENAI:
        errors.update(egress.judge_endpoint_errors(base_url=base_url, api_key_env=api_key_env))
    elif base_url or api_key_env:
        field = "base_url" if base_url else "api_key_env"
        errors[field] = [
            f"Only an OpenAI-compatible judge calls an endpoint; the {backend} "
            "backend takes no endpoint and no key."
        ]
    if backend == Backend.LOCAL:
        if isinstance(params, dict):
            operator = sorted(k for k in params if k in OPERATOR_LOCAL_PARAMS)
            if operator:
                errors["params"] = [
                    f"Remove {', '.join(operator)}: the operator sets these for local models "
                    "(RUBRICSTUDIO_TRUST_REMOTE_CODE_MODELS, RUBRICSTUDIO_LOCAL_DEVICE)."
                ]
        if model.strip() and local_model_location(model) is None:
            choices = ", ".join(local_model_choices()) or "none are configured"
            errors["model"] = [
                f"{model!r} is not one of the operator's local models "
                f"(RUBRICSTUDIO_MODELS_DIR, RUBRICSTUDIO_LOCAL_MODELS): {choices}."
            ]
    return errors


def worker_refusal(judge: JudgeConfig) -> str | None:
    """Why the worker must not call this judge now (the row as it is in the database), or
    ``None``. Also resolves the endpoint's host and checks its addresses, so a name that
    points at a refused address fails the run with that reason (the connection itself is
    checked again at connect time)."""
    errors = config_errors(
        backend=judge.backend,
        model=judge.model,
        base_url=judge.base_url,
        api_key_env=judge.api_key_env,
        params=judge.params,
    )
    if errors:
        details = "; ".join(f"{field}: {' '.join(msgs)}" for field, msgs in sorted(errors.items()))
        return f"The judge config {judge.name!r} is refused by the operator's policy ({details})"
    if judge.backend == Backend.OPENAI:
        problem = egress.url_addresses_problem(judge.base_url or egress.DEFAULT_OPENAI_URL)
        if problem:
            return f"The judge endpoint of {judge.name!r} is refused: {problem}"
    return None


class JudgeRefused(Exception):
    """The operator's policy refuses a judge config as it is now; the message says why."""


def require_allowed(judge: JudgeConfig) -> None:
    """Raise ``JudgeRefused`` with ``worker_refusal``'s reason unless the worker may call it."""
    refusal = worker_refusal(judge)
    if refusal is not None:
        raise JudgeRefused(refusal)


def backend_config(judge: JudgeConfig) -> BackendConfig:
    """The backend's configuration; call only after ``worker_refusal`` returned ``None``."""
    params = dict(judge.params)
    model = judge.model
    api_key: str | None = None
    base_url = judge.base_url
    if judge.backend == Backend.OPENAI:
        import os

        base_url = base_url or egress.DEFAULT_OPENAI_URL
        api_key = os.environ.get(judge.api_key_env) if judge.api_key_env else None
    elif judge.backend == Backend.LOCAL:
        model = local_model_location(judge.model) or judge.model
        params["device"] = str(settings.RUBRICSTUDIO_LOCAL_DEVICE)
        params["trust_remote_code"] = trust_remote_code_for(judge.model)
    return BackendConfig(
        backend=judge.backend,
        model=model,
        base_url=base_url,
        api_key=api_key,
        params=params,
        concurrency=judge.concurrency,
        requests_per_minute=judge.requests_per_minute,
        tokens_per_minute=judge.tokens_per_minute,
    )


def backend_fingerprint(judge: JudgeConfig) -> tuple[Any, ...]:
    """What a cached backend instance depends on: a row changed behind ``updated_at`` (an
    ``UPDATE`` in the database) still gets a fresh backend."""
    return (
        judge.updated_at.isoformat() if judge.updated_at else "",
        judge.backend,
        judge.model,
        judge.base_url,
        judge.api_key_env,
        repr(sorted(judge.params.items())) if isinstance(judge.params, dict) else "",
        judge.concurrency,
        judge.requests_per_minute,
        judge.tokens_per_minute,
    )


def describe(judge: JudgeConfig) -> dict[str, str]:
    """What the judge page shows: the endpoint and the declared key's name a config uses
    (never a value), and whether the operator's policy allows it now (no network use)."""
    endpoint = ""
    if judge.backend == Backend.OPENAI:
        endpoint = egress.normalize_url(judge.base_url or egress.DEFAULT_OPENAI_URL)
    errors = config_errors(
        backend=judge.backend,
        model=judge.model,
        base_url=judge.base_url,
        api_key_env=judge.api_key_env,
        params=judge.params,
    )
    problem = " ".join(m for msgs in errors.values() for m in msgs)
    return {"endpoint": endpoint, "key": judge.api_key_env, "problem": problem}
