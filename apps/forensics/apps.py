from django.apps import AppConfig


class ForensicsConfig(AppConfig):
    name = "apps.forensics"
    label = "forensics"
    verbose_name = "Drift forensics"

    def ready(self) -> None:
        from apps.forensics import signals  # noqa: F401 - connects the alert receiver
