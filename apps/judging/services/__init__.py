"""Writes of the judging app: judge configs, and starting, judging, cancelling and resuming runs.

Split by concern: ``configs`` (judge configs and their backends), ``runs`` (starting, dispatching,
cancelling, resuming and sweeping runs), ``chunks`` (claiming, judging and writing a chunk),
``cache`` (the judging cache and judging outside a run), ``finish`` (ending runs). Every public
name is re-exported here, so callers use ``services.<name>``.

How a run moves (see docs/judging-and-drift.md and docs/architecture.md "Dispatch after commit"):

1. ``run_start`` creates the run, its work items (one pending ``Judgment`` per pair and order,
   written by one ``INSERT ... SELECT``) and its chunks (judgment id ranges) in one transaction,
   then dispatches one task per chunk once the transaction has committed.
2. ``chunk_judge`` (called by the chunk tasks) claims its chunk, judges the pending items
   (cached answers first, the backend for the rest), and writes the results, the chunk's status
   and the run's counters in one transaction. Only rows that are still pending are written, so
   a redelivered message or a duplicate dispatch never writes or counts a judgment twice.
3. The chunk that brings ``done + failed`` up to ``total`` ends the run: ``succeeded``,
   ``partial`` (some items failed) or ``failed`` (all failed).

A chunk that keeps failing is given up by ``chunk_fail``: its items become ``failed`` with the
reason, so the run ends ``partial`` instead of staying ``running``. ``run_resume`` re-dispatches
what is still pending (after a worker died or the broker lost messages), and
``runs_sweep_orphaned`` does that on a schedule for chunks whose claim and runs whose heartbeat
went silent (a chunk at work beats both every few seconds; see ``apps.core.liveness``).
"""

from apps.judging.routing import CHUNK_TASK_NAMES, chunk_queue_for, chunk_task_name
from apps.judging.services.cache import (
    CachedAnswer,
    CachePlan,
    ResultRow,
    backend_answers,
    cache_plan,
    cache_plan_answer,
    cache_store,
    judge_texts_cached,
)
from apps.judging.services.chunks import (
    ChunkOutcome,
    chunk_fail,
    chunk_judge,
    chunk_release,
    run_execute,
)
from apps.judging.services.configs import (
    DEMO_JUDGE_LABEL,
    ENV_NAME_RE,
    SECRET_PARAM_NAMES,
    backend_config_for,
    judge_backend,
    judge_config_create,
    judge_config_errors,
    judge_config_save,
    judge_label,
    judge_mode,
)
from apps.judging.services.finish import ACTIVE_RUN_STATUSES, finalize_if_complete, run_fail
from apps.judging.services.runs import (
    CHUNK_MAX,
    CHUNK_MIN,
    CHUNK_RETRIES,
    DEFAULT_CHUNK_SIZE,
    RunNotActive,
    chunk_size_for,
    chunks_dispatch,
    run_cancel,
    run_resume,
    run_reuse_or_start,
    run_start,
    runs_sweep_orphaned,
)

__all__ = [
    "ACTIVE_RUN_STATUSES",
    "CHUNK_MAX",
    "CHUNK_MIN",
    "CHUNK_RETRIES",
    "CHUNK_TASK_NAMES",
    "DEFAULT_CHUNK_SIZE",
    "DEMO_JUDGE_LABEL",
    "ENV_NAME_RE",
    "SECRET_PARAM_NAMES",
    "CachePlan",
    "CachedAnswer",
    "ChunkOutcome",
    "ResultRow",
    "RunNotActive",
    "backend_answers",
    "backend_config_for",
    "cache_plan",
    "cache_plan_answer",
    "cache_store",
    "chunk_fail",
    "chunk_judge",
    "chunk_queue_for",
    "chunk_release",
    "chunk_size_for",
    "chunk_task_name",
    "chunks_dispatch",
    "finalize_if_complete",
    "judge_backend",
    "judge_config_create",
    "judge_config_errors",
    "judge_config_save",
    "judge_label",
    "judge_mode",
    "judge_texts_cached",
    "run_cancel",
    "run_execute",
    "run_fail",
    "run_resume",
    "run_reuse_or_start",
    "run_start",
    "runs_sweep_orphaned",
]
