"""Writes of the red-team app: starting, stepping, cancelling and resuming a red-team job.

How a job moves (docs/redteam.md):

1. ``redteam_start`` checks the request, splits the reference pairs by prompt cluster (seeded),
   reserves the judge calls the selection and the report will need, and dispatches the first
   step once the job is committed.
2. ``job_step`` (one Celery task per step, on the judge's queue) claims the job and does one
   unit of work: the seed's baseline, one search generation, the selection on val (with the
   benign band) or the report on test. The step's results and the job's new position are
   written in one transaction, then the next step is dispatched. A step killed half-way wrote
   nothing but cache entries, so the step that replaces it redoes the same seeded work, mostly
   from the cache, and the job continues from the last completed generation.
3. ``jobs_sweep_stale`` re-dispatches active jobs whose heartbeat went stale (a worker died).

Every judge call goes through the judging cache (``judge_texts_cached``), so a candidate that
was judged before (the seed each generation, a child identical to an earlier one) costs nothing.

The modules, by concern: ``pairs`` (a job's pairs by split), ``judge`` (judging a candidate and
its worst-case cost), ``state`` (claiming, ending and dispatching a job, its spend and the
ledger of it), ``start``, ``steps`` (one step), ``searching`` (the seed and the generations on
train), ``editing`` (one edit of a parent), ``selection`` (val), ``report`` (test) and
``lifecycle`` (in-process execution, cancel, the stale sweep).
"""

from apps.redteam.services.judge import Judged, judge_rubric, worst_case_cost
from apps.redteam.services.lifecycle import job_cancel, job_execute, jobs_sweep_stale
from apps.redteam.services.pairs import PairRow, job_pairs
from apps.redteam.services.start import redteam_start
from apps.redteam.services.state import (
    STEP_TASK,
    STEP_TASK_API,
    JobNotActive,
    step_dispatch,
    step_task_name,
)
from apps.redteam.services.steps import job_step
from apps.rubrics.spec import spec_from_content

__all__ = [
    "STEP_TASK",
    "STEP_TASK_API",
    "JobNotActive",
    "Judged",
    "PairRow",
    "job_cancel",
    "job_execute",
    "job_pairs",
    "job_step",
    "jobs_sweep_stale",
    "judge_rubric",
    "redteam_start",
    "spec_from_content",
    "step_dispatch",
    "step_task_name",
    "worst_case_cost",
]
