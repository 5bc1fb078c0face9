from apps.accounts.permissions import Capability
from tests.routes import Route

QUEUE_BODY = (("queue", "queue"), ("pair", "pair"))

ROUTES = {
    # Pages
    "annotations:list": Route(Capability.ANNOTATE),
    "annotations:create": Route(Capability.QUEUE_MANAGE, methods=("GET", "POST")),
    "annotations:dataset_agreement": Route(Capability.DATASET_VIEW),
    "annotations:queue": Route(Capability.QUEUE_MANAGE),
    "annotations:labels": Route(Capability.QUEUE_MANAGE),
    "annotations:pairs": Route(Capability.QUEUE_MANAGE),
    "annotations:queue_settings": Route(Capability.QUEUE_MANAGE, methods=("POST",)),
    "annotations:adjudicate": Route(
        Capability.QUEUE_MANAGE, methods=("POST",), body=(("pair", "pair"),)
    ),
    "annotations:export": Route(Capability.QUEUE_MANAGE),
    "annotations:label": Route(Capability.ANNOTATE),
    "annotations:submit": Route(Capability.ANNOTATE, methods=("POST",)),
    "annotations:skip": Route(Capability.ANNOTATE, methods=("POST",)),
    "annotations:undo": Route(Capability.ANNOTATE, methods=("POST",)),
    # API. The list shows the queues a caller manages or labels in; creating one needs
    # QUEUE_MANAGE (tested with every role in tests/annotations/test_api.py).
    "annotation-queue-list": Route(
        Capability.ANNOTATE, methods=("GET", "POST"), body=(("project", "project"),)
    ),
    "annotation-queue-detail": Route(Capability.ANNOTATE, pk="queue"),
    "annotation-queue-next": Route(Capability.ANNOTATE, pk="queue"),
    "annotation-queue-skip": Route(Capability.ANNOTATE, methods=("POST",), pk="queue"),
    "annotation-queue-undo": Route(Capability.ANNOTATE, methods=("POST",), pk="queue"),
    "annotation-queue-agreement": Route(Capability.QUEUE_MANAGE, pk="queue"),
    "annotation-queue-labels": Route(Capability.QUEUE_MANAGE, pk="queue"),
    "annotation-queue-adjudicate": Route(
        Capability.QUEUE_MANAGE, methods=("POST",), pk="queue", body=(("pair", "pair"),)
    ),
    "annotation-list": Route(Capability.ANNOTATE, methods=("POST",), body=QUEUE_BODY),
    "dataset-agreement": Route(Capability.DATASET_VIEW, pk="dataset"),
}
