from django.apps import AppConfig


class AnnotationsConfig(AppConfig):
    name = "apps.annotations"
    label = "annotations"

    def ready(self) -> None:
        from apps.annotations import dashboard  # noqa: F401  (registers the dashboard card)
        from apps.annotations.dataset_hooks import imported_annotator_labels_store, queue_labels
        from apps.datasets.label_sources import register_label_source
        from apps.datasets.signals import annotator_labels_imported

        register_label_source("queue", queue_labels)
        annotator_labels_imported.connect(
            imported_annotator_labels_store, dispatch_uid="annotations.imported_labels"
        )
