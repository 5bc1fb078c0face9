"""Drift routes in the permission table (tests/core/test_route_permissions.py).

Where one URL serves a read and a write with different capabilities (report list + create, guard
GET + PUT), the entry names the read's capability; tests/drift/test_api.py checks the write for
every role.
"""

from apps.accounts.permissions import Capability
from tests.routes import Route

VIEW = Capability.ALERT_VIEW
RESOLVE = Capability.ALERT_RESOLVE
RESOLVE_BODY = (("decision", "alert_decision"), ("reason", "alert_reason"))
ANCHOR_BODY = (("version", "version"), ("reason", "anchor_reason"))
RUNS_BODY = (("baseline_run", "drift_baseline_run"), ("candidate_run", "run"))

ROUTES = {
    # pages
    "drift:inbox": Route(VIEW),
    "drift:alert": Route(VIEW),
    "drift:resolve": Route(RESOLVE, methods=("POST",), body=RESOLVE_BODY),
    "drift:reports": Route(VIEW),
    "drift:report": Route(VIEW),
    "drift:report_status": Route(VIEW),
    "drift:report_judge": Route(VIEW),
    "drift:rubric_history": Route(VIEW),
    "drift:guard": Route(Capability.GUARD_EDIT, methods=("GET", "POST")),
    "drift:anchor": Route(Capability.GUARD_EDIT, methods=("GET", "POST"), body=ANCHOR_BODY),
    "drift:check": Route(Capability.RUN_START, methods=("POST",)),
    "drift:version_gate": Route(Capability.RUBRIC_VIEW),
    # API
    "drift-report-list": Route(VIEW, methods=("GET", "POST"), body=RUNS_BODY),
    "drift-report-detail": Route(VIEW, pk="report"),
    "alert-list": Route(VIEW),
    "alert-detail": Route(VIEW, pk="alert"),
    "alert-resolve": Route(RESOLVE, methods=("POST",), pk="alert", body=RESOLVE_BODY),
    "rubric-guard": Route(Capability.RUBRIC_VIEW, methods=("GET", "PUT"), pk="rubric"),
    "rubric-guard-anchor": Route(
        Capability.GUARD_EDIT, methods=("POST",), pk="rubric", body=ANCHOR_BODY
    ),
}
