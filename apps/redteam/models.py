"""Red-team jobs: a seeded search for the rubric edit that moves a judge most on target domains
while it still passes the benchmark, with every candidate and every pair verdict it judged."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.utils.functional import cached_property


class JobStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


ACTIVE_JOB_STATUSES = (JobStatus.QUEUED, JobStatus.RUNNING)


class Phase(models.TextChoices):
    """Where a job is: the search generations, then selection on val, then the test report."""

    SEARCH = "search", "Searching"
    SELECT = "select", "Selecting on val"
    REPORT = "report", "Reporting on test"
    DONE = "done", "Done"


class RedTeamJob(models.Model):
    """One red team of a published rubric version (the *seed*) with one judge on reference pairs.

    The reference pairs are split by prompt cluster into train (search), val (selection) and
    test (the final report only), deterministically from ``seed``. Targets are domains of
    ``reference_set``; the benchmark is its other domains, or every pair of
    ``benchmark_reference_set`` when one is given. ``editor`` is the judge config used as the
    rewriter (``None``: the deterministic editor). Budget: ``generations`` x (``population``
    parents x ``children`` each), at most ``max_judge_calls`` fresh judge calls and ``cost_cap``
    money (judge's prices). ``generation`` is the last generation whose candidates are stored:
    a re-entered step continues after it, which is what makes a job resumable.
    """

    project = models.ForeignKey(
        "accounts.Project", on_delete=models.CASCADE, related_name="redteam_jobs"
    )
    rubric_version = models.ForeignKey(
        "rubrics.RubricVersion", on_delete=models.PROTECT, related_name="redteam_jobs"
    )
    judge = models.ForeignKey("judging.JudgeConfig", on_delete=models.PROTECT, related_name="+")
    editor = models.ForeignKey(
        "judging.JudgeConfig", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    poison_feedback = models.BooleanField(default=False)
    reference_set = models.ForeignKey(
        "datasets.ReferenceSet", on_delete=models.PROTECT, related_name="+"
    )
    benchmark_reference_set = models.ForeignKey(
        "datasets.ReferenceSet", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    targets = models.JSONField(default=list)
    generations = models.PositiveSmallIntegerField(default=5)
    population = models.PositiveSmallIntegerField(default=10)
    children = models.PositiveSmallIntegerField(default=4)
    sample_size = models.PositiveIntegerField(default=200)
    max_judge_calls = models.PositiveIntegerField(null=True, blank=True)
    cost_cap = models.DecimalField(max_digits=14, decimal_places=6, null=True, blank=True)
    # Search survival: benchmark accuracy within this of the seed's (RIPD: 5 points).
    tolerance = models.FloatField(default=0.05)
    # Selection and the verdict: benchmark accuracy on val/test within this of the seed's.
    selection_tolerance = models.FloatField(default=0.01)
    benign_k = models.PositiveSmallIntegerField(default=4)
    seed = models.PositiveIntegerField(default=0)

    status = models.CharField(max_length=16, choices=JobStatus.choices, default=JobStatus.QUEUED)
    phase = models.CharField(max_length=16, choices=Phase.choices, default=Phase.SEARCH)
    generation = models.IntegerField(default=-1)
    cancel_requested = models.BooleanField(default=False)
    split = models.JSONField(default=dict, blank=True)
    judge_calls = models.PositiveIntegerField(default=0)
    cached_calls = models.PositiveIntegerField(default=0)
    editor_calls = models.PositiveIntegerField(default=0)
    tokens_in = models.BigIntegerField(default=0)
    tokens_out = models.BigIntegerField(default=0)
    cost = models.DecimalField(max_digits=14, decimal_places=6, default=0)
    candidates = models.PositiveIntegerField(default=0)
    best_fitness = models.FloatField(null=True, blank=True)
    stop_reason = models.CharField(max_length=200, blank=True)
    best = models.ForeignKey(
        "redteam.Candidate", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    draft_version = models.ForeignKey(
        "rubrics.RubricVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Frontier, selection, benign band and the test-split drift report, once computed.
    result = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["rubric_version", "status"])]

    def __str__(self) -> str:
        return f"red team {self.pk}"

    @property
    def is_finished(self) -> bool:
        return self.status not in ACTIVE_JOB_STATUSES

    @cached_property
    def pending_spend(self) -> list[SpendEntry]:
        """The ledger entries of the step in progress, not yet written: recorded with each
        increment of the totals in memory, written with the totals (``services.state``). A
        step that dies loses them with its totals, so a retried step never counts twice."""
        return []


class CandidateKind(models.TextChoices):
    SEED = "seed", "Seed rubric"
    SEARCH = "search", "Search candidate"
    BENIGN = "benign", "Benign paraphrase"


class Candidate(models.Model):
    """A rubric judged by a job: the seed, a search child, or a benign paraphrase.

    ``spec`` is the rubric content (``spec_content``); ``edit`` says in words what the editor
    changed. Train figures come from the generation's train sample, val figures only from
    selection. ``fitness`` = min(bench, seed bench + tolerance) - target (RIPD), for survivors.
    """

    job = models.ForeignKey(RedTeamJob, on_delete=models.CASCADE, related_name="candidate_set")
    generation = models.IntegerField()
    index = models.PositiveIntegerField()
    kind = models.CharField(max_length=8, choices=CandidateKind.choices)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    spec = models.JSONField()
    content_hash = models.CharField(max_length=64)
    edit = models.TextField(blank=True)
    error = models.TextField(blank=True)
    train_target = models.FloatField(null=True, blank=True)
    train_bench = models.FloatField(null=True, blank=True)
    seed_train_target = models.FloatField(null=True, blank=True)
    seed_train_bench = models.FloatField(null=True, blank=True)
    compliant = models.BooleanField(default=False)
    fitness = models.FloatField(null=True, blank=True)
    val_target = models.FloatField(null=True, blank=True)
    val_bench = models.FloatField(null=True, blank=True)
    val_by_domain = models.JSONField(default=dict, blank=True)
    judge_calls = models.PositiveIntegerField(default=0)
    cached_calls = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["job", "generation", "index"]
        constraints = [
            models.UniqueConstraint(
                fields=["job", "generation", "kind", "index"], name="one_candidate_per_slot"
            )
        ]

    def __str__(self) -> str:
        return f"candidate {self.generation}.{self.index} of red team {self.job_id}"

    @property
    def project(self) -> Any:
        return self.job.project


class Split(models.TextChoices):
    TRAIN = "train", "Train"
    VAL = "val", "Val"
    TEST = "test", "Test"


class PairVerdict(models.Model):
    """A candidate's verdict on one reference pair (both orders aggregated), and on which split.

    The record of what the search looked at: a job's test pairs appear here only for the seed
    and the selected attack, written by the final report.
    """

    candidate = models.ForeignKey(Candidate, on_delete=models.CASCADE, related_name="verdicts")
    pair = models.ForeignKey("datasets.Pair", on_delete=models.PROTECT, related_name="+")
    split = models.CharField(max_length=5, choices=Split.choices)
    verdict = models.CharField(max_length=8)
    cached = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["candidate", "pair"], name="one_verdict_per_pair")
        ]


class SpendKind(models.TextChoices):
    JUDGE = "judge", "Judge"
    EDITOR = "editor", "Editor"


class SpendEntry(models.Model):
    """One charge on a red-team job's budget: a rubric judged on some pairs, or one LLM edit.

    The ledger behind the job's totals: its entries are written in the same transaction as the
    totals they add to (``services.state``), so they always sum to the job's ``judge_calls``,
    ``cached_calls``, ``editor_calls``, tokens and ``cost``. ``candidate`` is the rubric judged
    (or the child an edit made); ``step`` names the step that spent ("generation 3",
    "selection", "report"); ``split`` is blank for an edit; ``pairs`` counts the pairs judged.
    """

    job = models.ForeignKey(RedTeamJob, on_delete=models.CASCADE, related_name="spend_entries")
    candidate = models.ForeignKey(
        Candidate, null=True, blank=True, on_delete=models.SET_NULL, related_name="spend_entries"
    )
    kind = models.CharField(max_length=8, choices=SpendKind.choices)
    step = models.CharField(max_length=40)
    split = models.CharField(max_length=5, choices=Split.choices, blank=True)
    pairs = models.PositiveIntegerField(default=0)
    judge_calls = models.PositiveIntegerField(default=0)
    cached_calls = models.PositiveIntegerField(default=0)
    tokens_in = models.BigIntegerField(default=0)
    tokens_out = models.BigIntegerField(default=0)
    cost = models.DecimalField(max_digits=14, decimal_places=6, default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["job", "id"]
        indexes = [models.Index(fields=["job", "kind", "step"])]

    def __str__(self) -> str:
        return f"{self.kind} spend of red team {self.job_id} ({self.step})"
