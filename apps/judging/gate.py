"""The run gate: a judge's checks as a run sees them, and the refusal of a run on a judge whose
last check failed. Reads only the check rows, so starting a run does not reach the checks'
probes and services (``apps/judging/check/``)."""

from __future__ import annotations

from django.core.exceptions import ValidationError

from apps.judging.models import CheckStatus, JudgeCheck, JudgeConfig


def judge_check_latest(judge: JudgeConfig) -> JudgeCheck | None:
    """The judge's most recent finished check, or ``None``."""
    return (
        JudgeCheck.objects.filter(judge=judge)
        .exclude(status=CheckStatus.RUNNING)
        .order_by("-created_at", "-pk")
        .first()
    )


def checks_for_judge(judge: JudgeConfig, limit: int = 20) -> list[JudgeCheck]:
    """The judge's checks, newest first."""
    return list(JudgeCheck.objects.filter(judge=judge).order_by("-created_at", "-pk")[:limit])


def check_summary(check: JudgeCheck) -> str:
    """One line for a check: its failing findings, else its status."""
    fails = [f["message"] for f in check.findings if f.get("severity") == "fail"]
    return " ".join(fails) if fails else check.get_status_display()


def run_check_gate(*, judge: JudgeConfig, override: str) -> JudgeCheck | None:
    """Refuse a run on a judge whose last check failed, unless ``override`` gives a reason.

    Returns the failed check that was overridden (for the audit log), ``None`` when the judge
    passed its last check or has none. Raises ``ValidationError`` on ``check_override``.
    """
    last = judge_check_latest(judge)
    if last is None or last.status != CheckStatus.FAILED:
        return None
    if not override.strip():
        raise ValidationError(
            {
                "check_override": [
                    f"The last check of judge {judge.name!r} failed: {check_summary(last)} "
                    "Apply its recommendations and check again, or give a reason to start anyway."
                ]
            }
        )
    return last
