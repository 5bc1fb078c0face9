from django.apps import AppConfig


class JudgingConfig(AppConfig):
    name = "apps.judging"
    label = "judging"

    def ready(self) -> None:
        from apps.core.liveness import register_sweep
        from apps.judging import (
            dashboard,  # noqa: F401 - registers the dashboard section
            tasks,  # noqa: F401 - registers the tasks services send by name
        )
        from apps.judging.preview import version_prompt_preview
        from apps.judging.services import runs_sweep_orphaned
        from apps.rubrics.hooks import register_prompt_preview

        register_prompt_preview(version_prompt_preview)
        register_sweep("judging", runs_sweep_orphaned)
