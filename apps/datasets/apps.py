from django.apps import AppConfig


class DatasetsConfig(AppConfig):
    name = "apps.datasets"
    label = "datasets"

    def ready(self) -> None:
        # Registers the dashboard card.
        from apps.datasets import dashboard  # noqa: F401
