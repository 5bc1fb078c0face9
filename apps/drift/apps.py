from django.apps import AppConfig


class DriftConfig(AppConfig):
    name = "apps.drift"
    label = "drift"

    def ready(self) -> None:
        from apps.drift import dashboard  # noqa: F401 - registers the dashboard section
