from django.apps import AppConfig


class RubricsConfig(AppConfig):
    name = "apps.rubrics"
    label = "rubrics"

    def ready(self) -> None:
        # Imported for their side effects: the dashboard section and the deletion signals.
        from apps.rubrics import dashboard, signals  # noqa: F401
