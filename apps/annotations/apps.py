from django.apps import AppConfig


class AnnotationsConfig(AppConfig):
    name = "apps.annotations"
    label = "annotations"

    def ready(self) -> None:
        # Registers the dashboard card.
        from apps.annotations import dashboard  # noqa: F401
