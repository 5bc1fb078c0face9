"""Forensics routes in the permission table (tests/core/test_route_permissions.py).

Where one URL serves a read and a write with different capabilities (list + create), the entry
names the read's capability; tests/forensics/test_api.py checks the write for every role.
"""

from apps.accounts.permissions import Capability
from tests.routes import Route

VIEW = Capability.ALERT_VIEW

ROUTES = {
    # pages
    "forensics:panel": Route(VIEW),
    "forensics:attribute": Route(Capability.RUN_START, methods=("POST",)),
    "forensics:judge_drift": Route(VIEW, pk="judge_drift_report"),
    "forensics:judge_drift_flips": Route(VIEW, pk="judge_drift_report"),
    "forensics:guard_judge_check": Route(Capability.GUARD_EDIT, methods=("POST",)),
    "forensics:judge_drift_accept": Route(
        Capability.GUARD_EDIT, methods=("POST",), pk="judge_drift_report"
    ),
    # API
    "attribution-list": Route(VIEW, methods=("GET", "POST"), body=(("report", "report"),)),
    "attribution-detail": Route(VIEW, pk="attribution"),
    "judge-drift-report-list": Route(
        VIEW,
        methods=("GET", "POST"),
        body=(("reference_set", "reference_set"), ("old_version", "version")),
    ),
    "judge-drift-report-detail": Route(VIEW, pk="judge_drift_report"),
    "judge-drift-report-accept": Route(
        Capability.GUARD_EDIT,
        methods=("POST",),
        pk="judge_drift_report",
        body=(("reason", "judge_accept_reason"),),
    ),
}
