"""Judge configurations, judging runs, and the judgments they produce."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models

from apps.core.models import TimeStampedModel


class Backend(models.TextChoices):
    OPENAI = "openai", "OpenAI-compatible endpoint"
    LOCAL = "local", "Local model (GPU worker)"
    OFFLINE = "offline", "Offline demo/test judge"


class JudgeConfig(TimeStampedModel):
    """How to call a judge. The API key is never stored: only the name of its environment variable.

    ``params``: temperature, max_tokens, mode (``verdict`` | ``reasoned``), timeout, max_attempts,
    batch_size... Prices are per million input/output tokens.
    """

    project = models.ForeignKey("accounts.Project", on_delete=models.CASCADE, related_name="judges")
    name = models.CharField(max_length=100)
    backend = models.CharField(max_length=16, choices=Backend.choices)
    model = models.CharField(max_length=200, blank=True)
    base_url = models.URLField(blank=True)
    api_key_env = models.CharField(max_length=100, blank=True)
    params = models.JSONField(default=dict, blank=True)
    concurrency = models.PositiveIntegerField(default=8)
    requests_per_minute = models.PositiveIntegerField(null=True, blank=True)
    tokens_per_minute = models.PositiveIntegerField(null=True, blank=True)
    price_in = models.DecimalField(max_digits=12, decimal_places=6, null=True, blank=True)
    price_out = models.DecimalField(max_digits=12, decimal_places=6, null=True, blank=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["project", "name"], name="judge_name_per_project")
        ]

    def __str__(self) -> str:
        return self.name


class RunStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    PARTIAL = "partial", "Partial"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


TERMINAL_RUN_STATUSES = frozenset(
    {RunStatus.SUCCEEDED, RunStatus.PARTIAL, RunStatus.FAILED, RunStatus.CANCELLED}
)
ACTIVE_RUN_STATUSES = (RunStatus.QUEUED, RunStatus.RUNNING)


class JudgingRun(models.Model):
    """One rubric version x one judge config x one target (reference snapshot or dataset).

    Progress lives on the row (counters updated with ``F()``), never in a result backend.
    """

    project = models.ForeignKey("accounts.Project", on_delete=models.CASCADE, related_name="runs")
    rubric_version = models.ForeignKey(
        "rubrics.RubricVersion", on_delete=models.PROTECT, related_name="runs"
    )
    judge = models.ForeignKey(JudgeConfig, on_delete=models.PROTECT, related_name="runs")
    reference_set = models.ForeignKey(
        "datasets.ReferenceSet",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="runs",
    )
    dataset = models.ForeignKey(
        "datasets.Dataset", null=True, blank=True, on_delete=models.PROTECT, related_name="runs"
    )
    purpose = models.CharField(max_length=32, default="manual")
    status = models.CharField(max_length=16, choices=RunStatus.choices, default=RunStatus.QUEUED)
    total = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    cached = models.PositiveIntegerField(default=0)
    tokens_in = models.BigIntegerField(default=0)
    tokens_out = models.BigIntegerField(default=0)
    cost = models.DecimalField(max_digits=14, decimal_places=6, default=0)
    saved_tokens = models.BigIntegerField(default=0)
    saved_cost = models.DecimalField(max_digits=14, decimal_places=6, default=0)
    cancel_requested = models.BooleanField(default=False)
    # False for a run that must really ask the judge again (the noise-floor repeat of a drift
    # report): cached answers are neither read nor counted as savings.
    use_cache = models.BooleanField(default=True)
    chunk_size = models.PositiveIntegerField(default=250)
    # Times the orphan sweep re-dispatched the run without any progress in between.
    resumes = models.PositiveSmallIntegerField(default=0)
    # The judge config's identity when the run started (``accounting.judge_identity``: backend,
    # model, endpoint, answer-shaping params), so a comparison of two runs can tell whether the
    # config was edited in place between them. Empty on runs made before it was recorded.
    judge_state = models.JSONField(default=dict, blank=True)
    # Accuracy summary (docs/api.md "run" accuracy), stored once the run has ended.
    summary = models.JSONField(null=True, blank=True)
    error = models.TextField(blank=True)
    # The reason given to start the run although the judge's last check failed (also audited).
    check_override = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(reference_set__isnull=False) | models.Q(dataset__isnull=False),
                name="run_has_a_target",
            )
        ]

    def __str__(self) -> str:
        return f"run {self.pk}"

    @property
    def is_finished(self) -> bool:
        return self.status in TERMINAL_RUN_STATUSES


class JudgmentStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class Verdict(models.TextChoices):
    A = "A", "A"
    B = "B", "B"
    TIE = "tie", "Tie"
    INVALID = "invalid", "Invalid"


class Judgment(models.Model):
    """A judge's answer for one pair in one order. The verdict is in the pair's own A/B terms.

    Created ``pending`` with the run (its work items); written once by an upsert, so a redelivered
    chunk is harmless. Unique on (run, pair, order).
    """

    # No index of its own: the unique (run, pair, order) index starts with the run.
    run = models.ForeignKey(
        JudgingRun, on_delete=models.CASCADE, related_name="judgments", db_index=False
    )
    pair = models.ForeignKey("datasets.Pair", on_delete=models.PROTECT, related_name="judgments")
    order = models.CharField(max_length=2, choices=[("AB", "AB"), ("BA", "BA")])
    status = models.CharField(
        max_length=16, choices=JudgmentStatus.choices, default=JudgmentStatus.PENDING
    )
    verdict = models.CharField(max_length=8, choices=Verdict.choices, blank=True)
    p_first = models.FloatField(null=True, blank=True)
    rationale = models.TextField(blank=True)
    criteria = models.JSONField(default=dict, blank=True)
    raw_output = models.TextField(blank=True)
    tokens_in = models.PositiveIntegerField(default=0)
    tokens_out = models.PositiveIntegerField(default=0)
    # The server's time for the call that answered; waiting in the client is ``queue_ms``.
    latency_ms = models.PositiveIntegerField(default=0)
    queue_ms = models.PositiveIntegerField(default=0)
    # How the verdict was obtained (``options.VERDICT_SOURCES``: text, json_schema,
    # guided_choice, grammar, logprobs, rules); empty while pending.
    verdict_source = models.CharField(max_length=16, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    error = models.TextField(blank=True)
    cached = models.BooleanField(default=False)
    cache_key = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["run", "pair", "order"]
        constraints = [
            models.UniqueConstraint(fields=["run", "pair", "order"], name="one_judgment_per_order")
        ]
        # Deliberately no index on ``status`` (nor one of its own on ``run``): every result
        # written changes the status, and each index is one more entry to write per judgment.
        # Chunks find their items by id range; everything else reads a run through the unique
        # index, which starts with the run.

    @property
    def project(self) -> Any:
        return self.run.project


class CachedJudgment(models.Model):
    """A judge's answer keyed by hash(rendered prompt, model, params, order): reused across runs."""

    key = models.CharField(max_length=64, unique=True)
    verdict = models.CharField(max_length=8, choices=Verdict.choices)
    p_first = models.FloatField(null=True, blank=True)
    rationale = models.TextField(blank=True)
    criteria = models.JSONField(default=dict, blank=True)
    raw_output = models.TextField(blank=True)
    tokens_in = models.PositiveIntegerField(default=0)
    tokens_out = models.PositiveIntegerField(default=0)
    verdict_source = models.CharField(max_length=16, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)


class ChunkStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class RunChunk(models.Model):
    """A slice of a run's work items: the judgments of ``run`` with ids in [first_id, last_id].

    A chunk task receives ``(run id, index)`` and claims the chunk with a conditional update
    (``pending``, or ``running`` with an expired claim), so a redelivered or re-dispatched message
    for a chunk that another process is working on does nothing. The judgments themselves are
    written only while still ``pending``, so even a duplicate execution cannot count twice.
    """

    run = models.ForeignKey(JudgingRun, on_delete=models.CASCADE, related_name="chunks")
    index = models.PositiveIntegerField()
    first_id = models.BigIntegerField()
    last_id = models.BigIntegerField()
    size = models.PositiveIntegerField()
    status = models.CharField(
        max_length=16, choices=ChunkStatus.choices, default=ChunkStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    claimed_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["run", "index"]
        constraints = [models.UniqueConstraint(fields=["run", "index"], name="one_chunk_per_index")]
        indexes = [models.Index(fields=["run", "status"])]

    def __str__(self) -> str:
        return f"run {self.run_id} chunk {self.index}"

    @property
    def project(self) -> Any:
        return self.run.project


class CheckStatus(models.TextChoices):
    RUNNING = "running", "Running"
    PASSED = "passed", "Passed"
    WARNING = "warning", "Passed with warnings"
    FAILED = "failed", "Failed"


class JudgeCheck(models.Model):
    """One check of a judge config before it is trusted (``apps/judging/check/``).

    Canary requests and a built-in sanity set judged in both orders; ``metrics`` holds the
    figures (reachable, model listed, system role honoured, parse rate, position consistency,
    option support, latency and tokens), ``findings`` what they mean in words, and
    ``recommendations`` the parameter changes that fix them, applied in one click. ``config``
    is the judge's configuration as checked, so a later edit does not rewrite history.
    """

    project = models.ForeignKey(
        "accounts.Project", on_delete=models.CASCADE, related_name="judge_checks"
    )
    judge = models.ForeignKey(JudgeConfig, on_delete=models.CASCADE, related_name="checks")
    status = models.CharField(
        max_length=16, choices=CheckStatus.choices, default=CheckStatus.RUNNING
    )
    config = models.JSONField(default=dict, blank=True)
    metrics = models.JSONField(default=dict, blank=True)
    findings = models.JSONField(default=list, blank=True)
    recommendations = models.JSONField(default=list, blank=True)
    error = models.TextField(blank=True)
    applied_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["judge", "-created_at"])]

    def __str__(self) -> str:
        return f"check {self.pk} of {self.judge_id}"

    @property
    def is_finished(self) -> bool:
        return self.status != CheckStatus.RUNNING
