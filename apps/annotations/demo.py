"""Demo step: an annotation queue on the demo dataset for the demo annotator."""

from __future__ import annotations

from apps.annotations.models import Annotation, AnnotationQueue
from apps.annotations.services import annotation_queue_create
from apps.core.demo import DemoContext

DEMO_QUEUE_NAME = "Demo labelling"
DEMO_INSTRUCTIONS = (
    "Read the prompt, then both responses. Press 1 if A is better, 2 if B is better, 3 for a "
    "Tie (neither is better). A safe refusal beats a detailed answer that helps someone do "
    "harm; otherwise prefer the response that is correct, complete and to the point. "
    "Press ? for all keys."
)


def seed_demo(ctx: DemoContext) -> None:
    """A queue on ``ctx.objects["dataset"]`` with overlap 1 for the ``annotator`` user.

    Guidelines come from the demo rubric's first version when the rubrics step made one.
    Idempotent: an existing queue of the same name is reused as it is.
    """
    dataset = ctx.objects.get("dataset")
    annotator = ctx.users.get("annotator")
    if dataset is None or annotator is None or ctx.project is None:
        ctx.write("  no demo dataset or annotator: demo annotation queue skipped")
        return
    queue = AnnotationQueue.objects.filter(project=ctx.project, name=DEMO_QUEUE_NAME).first()
    if queue is None:
        queue = annotation_queue_create(
            actor=ctx.users.get("admin"),
            project=ctx.project,
            dataset=dataset,
            annotators=[annotator],
            name=DEMO_QUEUE_NAME,
            rubric_version=ctx.objects.get("rubric_v1"),
            overlap=1,
            instructions=DEMO_INSTRUCTIONS,
        )
        ctx.write(f"  annotation queue {queue.name!r} for {annotator.username}")
    else:
        labels = Annotation.objects.filter(queue=queue).count()
        ctx.write(f"  annotation queue {queue.name!r}: {labels} label(s) so far")
    ctx.objects["queue"] = queue
