from apps.accounts.permissions import Capability
from tests.routes import Route

_VIEW = Capability.DATASET_VIEW
_EDIT = Capability.DATASET_EDIT

ROUTES = {
    "datasets:list": Route(_VIEW),
    "datasets:create": Route(_EDIT, methods=("POST",)),
    "datasets:detail": Route(_VIEW),
    "datasets:import": Route(_EDIT, methods=("POST",)),
    "datasets:pair": Route(_VIEW),
    "datasets:formats": Route(_VIEW),
    "datasets:format_example": Route(_VIEW),
    "datasets:reference_sets": Route(_VIEW),
    "datasets:reference_set_create": Route(_EDIT, methods=("POST",)),
    "datasets:reference_set": Route(_VIEW),
    # API: lists are read by every staff role; who may write is checked in test_api.py.
    "dataset-list": Route(_VIEW, methods=("GET", "POST"), body=(("project", "project"),)),
    "dataset-detail": Route(_VIEW, pk="dataset"),
    "dataset-import": Route(_EDIT, methods=("POST",), pk="dataset"),
    "pair-list": Route(_VIEW),
    "pair-detail": Route(_VIEW, pk="pair"),
    "reference-set-list": Route(_VIEW, methods=("GET", "POST"), body=(("project", "project"),)),
    "reference-set-detail": Route(_VIEW, pk="reference_set"),
    "reference-set-items": Route(_VIEW, pk="reference_set"),
}
