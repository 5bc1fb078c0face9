from django.apps import AppConfig


class ForensicsConfig(AppConfig):
    name = "apps.forensics"
    label = "forensics"
    verbose_name = "Drift forensics"

    def ready(self) -> None:
        """Connect the receivers (new alerts, guards' judge changes, judge configs edited in
        place, drift reports whose judge moved) and answer the drift app's questions whether a
        guard's new judge is cleared and which report splits a drift report's causes."""
        from apps.drift import hooks
        from apps.forensics import (
            selectors,
            signals,  # noqa: F401 - connects the receivers
        )

        hooks.register_judge_clearance(selectors.guard_judge_clearance)
        hooks.register_judge_split(selectors.drift_report_split)
