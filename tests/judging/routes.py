from apps.accounts.permissions import Capability
from tests.routes import Route

_START = Capability.RUN_START
_VIEW = Capability.RUN_VIEW

ROUTES = {
    "judging:list": Route(_VIEW),
    "judging:start": Route(_START, methods=("GET", "POST")),
    "judging:estimate": Route(_START),
    "judging:judges": Route(_VIEW),
    "judging:judge_create": Route(_START, methods=("GET", "POST")),
    "judging:detail": Route(_VIEW),
    "judging:judgment": Route(_VIEW),
    "judging:judgments": Route(_VIEW),
    "judging:progress": Route(_VIEW),
    "judging:cancel": Route(_START, methods=("POST",)),
    "judging:resume": Route(_START, methods=("POST",)),
    "judging:check_start": Route(_START, methods=("POST",)),
    "judging:check": Route(_VIEW),
    "judging:check_apply": Route(_START, methods=("POST",)),
    # API: lists are read by every staff role; who may write is checked in test_api.py.
    "judge-list": Route(_VIEW, methods=("GET", "POST"), body=(("project", "project"),)),
    "judge-detail": Route(_VIEW, pk="judge"),
    "run-list": Route(_VIEW, methods=("GET", "POST"), body=(("judge", "judge"),)),
    "run-detail": Route(_VIEW, pk="run"),
    "run-cancel": Route(_START, methods=("POST",), pk="run"),
    "run-resume": Route(_START, methods=("POST",), pk="run"),
    "run-judgments": Route(_VIEW, pk="run"),
    "judge-check-list": Route(_VIEW, methods=("GET", "POST"), body=(("judge", "judge"),)),
    "judge-check-detail": Route(_VIEW, pk="check"),
    "judge-check-apply": Route(_START, methods=("POST",), pk="check"),
}
