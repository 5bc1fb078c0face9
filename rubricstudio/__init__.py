"""Rubric Studio: version judge rubrics, build trusted reference sets, catch preference drift."""

from .celery import app as celery_app

__all__ = ("celery_app",)
