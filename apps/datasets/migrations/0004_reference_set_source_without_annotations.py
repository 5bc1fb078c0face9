# A reference set names its label source by kind and id instead of a foreign key to the
# annotations app, and a dataset counts the annotator labels its imports carried: the datasets
# app no longer depends on annotations (docs/architecture.md).

from django.db import migrations, models
from django.db.models import Count


def forwards(apps, schema_editor):
    ReferenceSet = apps.get_model("datasets", "ReferenceSet")
    Dataset = apps.get_model("datasets", "Dataset")
    Annotation = apps.get_model("annotations", "Annotation")
    for reference_set in ReferenceSet.objects.exclude(queue=None).select_related("queue"):
        reference_set.source_kind = "queue"
        reference_set.source_id = reference_set.queue_id
        reference_set.source_description = f"consensus of queue {reference_set.queue.name}"
        reference_set.save(update_fields=["source_kind", "source_id", "source_description"])
    ReferenceSet.objects.filter(queue=None).update(
        source_kind="dataset", source_description="imported labels"
    )
    counts = (
        Annotation.objects.filter(imported=True)
        .values("pair__dataset")
        .annotate(n=Count("id"))
        .values_list("pair__dataset", "n")
    )
    for dataset_id, n in counts:
        Dataset.objects.filter(pk=dataset_id).update(annotator_label_count=n)


def backwards(apps, schema_editor):
    ReferenceSet = apps.get_model("datasets", "ReferenceSet")
    for reference_set in ReferenceSet.objects.filter(source_kind="queue"):
        reference_set.queue_id = reference_set.source_id
        reference_set.save(update_fields=["queue"])


class Migration(migrations.Migration):

    dependencies = [
        ("datasets", "0003_pair_indexes_for_bulk_import"),
        ("annotations", "0004_assignment_slots"),
    ]

    operations = [
        migrations.AddField(
            model_name="dataset",
            name="annotator_label_count",
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.AddField(
            model_name="referenceset",
            name="source_description",
            field=models.CharField(blank=True, max_length=300),
        ),
        migrations.AddField(
            model_name="referenceset",
            name="source_id",
            field=models.PositiveIntegerField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="referenceset",
            name="source_kind",
            field=models.CharField(default="dataset", max_length=50),
        ),
        migrations.RunPython(forwards, backwards),
        migrations.RemoveField(
            model_name="referenceset",
            name="queue",
        ),
    ]
