from django.apps import AppConfig


class DriftConfig(AppConfig):
    name = "apps.drift"
    label = "drift"

    def ready(self) -> None:
        """Register the dashboard section and plug the drift guard into the rubrics app's
        seams (``apps.rubrics.hooks``): checks on publish, the promotion gate, the anchor that
        follows the first promotion, the drift column of the rubric list and the preview's
        sample pair; and register the sweep that builds reports whose messages were lost."""
        from apps.core.liveness import register_sweep
        from apps.drift import (
            dashboard,  # noqa: F401 - registers the dashboard section
            gate,
            selectors,
            services,
            tasks,  # noqa: F401 - registers the tasks the services dispatch by name
        )
        from apps.rubrics import hooks

        hooks.version_published.connect(
            services.on_version_published, dispatch_uid="drift.check_on_publish"
        )
        hooks.label_moved.connect(services.on_label_moved, dispatch_uid="drift.anchor_on_promote")
        hooks.register_promotion_check(gate.promotion_check)
        hooks.register_version_status(selectors.version_drift_status)
        hooks.register_sample_reference_set(selectors.guard_reference_set_id)
        register_sweep("drift", services.drift_reports_sweep)
