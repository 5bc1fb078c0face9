"""Red-team routes in the permission table (tests/core/test_route_permissions.py).

Where one URL serves a read and a write with different capabilities (the API list and create),
the entry names the read's capability; tests/redteam/test_api.py checks the write for every role.
"""

from apps.accounts.permissions import Capability
from tests.routes import Route

_VIEW = Capability.RUN_VIEW
_START = Capability.REDTEAM_START

ROUTES = {
    "redteam:list": Route(_VIEW),
    "redteam:start": Route(_START, methods=("GET", "POST")),
    "redteam:detail": Route(_VIEW),
    "redteam:progress": Route(_VIEW),
    "redteam:cancel": Route(_START, methods=("POST",)),
    "redteam:spend": Route(_VIEW),
    "redteam:candidates": Route(_VIEW),
    "redteam:candidate": Route(_VIEW),
    "redteam-list": Route(_VIEW, methods=("GET", "POST"), body=(("judge", "judge"),)),
    "redteam-detail": Route(_VIEW, pk="job"),
    "redteam-cancel": Route(_START, methods=("POST",), pk="job"),
}
