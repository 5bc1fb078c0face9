from django.apps import AppConfig


class JudgingConfig(AppConfig):
    name = "apps.judging"
    label = "judging"

    def ready(self) -> None:
        from apps.judging import dashboard  # noqa: F401 - registers the dashboard section
        from apps.judging.preview import version_prompt_preview
        from apps.rubrics.hooks import register_prompt_preview

        register_prompt_preview(version_prompt_preview)
