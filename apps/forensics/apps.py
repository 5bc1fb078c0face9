from django.apps import AppConfig


class ForensicsConfig(AppConfig):
    name = "apps.forensics"
    label = "forensics"
    verbose_name = "Drift forensics"

    def ready(self) -> None:
        """Connect the receivers (new alerts, guards' judge changes, judge configs edited in
        place) and answer the drift app's question whether a guard's new judge is cleared."""
        from apps.drift import hooks
        from apps.forensics import (
            selectors,
            signals,  # noqa: F401 - connects the receivers
        )

        hooks.register_judge_clearance(selectors.guard_judge_clearance)
