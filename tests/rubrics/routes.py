"""Rubric routes in the permission table (tests/core/test_route_permissions.py).

A route's table entry has one access level; where one URL serves a read and a write with
different capabilities (list + create, detail + PATCH, versions GET + POST) the entry covers the
read and tests/rubrics/test_api_permissions.py covers the write for every role.
"""

from apps.accounts.permissions import Capability
from tests.routes import Route

VIEW = Capability.RUBRIC_VIEW
EDIT = Capability.RUBRIC_EDIT
PROMOTE = Capability.RUBRIC_PROMOTE
PROMOTE_BODY = (("version", "version"), ("label", "label_name"))

ROUTES = {
    # pages
    "rubrics:list": Route(VIEW),
    "rubrics:create": Route(EDIT, methods=("GET", "POST")),
    "rubrics:import": Route(EDIT, methods=("GET", "POST")),
    "rubrics:detail": Route(VIEW),
    "rubrics:promote": Route(PROMOTE, methods=("POST",), body=PROMOTE_BODY),
    "rubrics:version": Route(VIEW),
    "rubrics:edit": Route(EDIT),
    "rubrics:field": Route(EDIT, methods=("POST",)),
    "rubrics:criterion-add": Route(EDIT, methods=("POST",)),
    "rubrics:criteria-reorder": Route(EDIT, methods=("POST",)),
    "rubrics:criterion-update": Route(EDIT, methods=("POST",)),
    "rubrics:criterion-remove": Route(EDIT, methods=("POST",)),
    "rubrics:criterion-move": Route(EDIT, methods=("POST",)),
    "rubrics:preview": Route(VIEW),
    "rubrics:publish": Route(EDIT, methods=("POST",)),
    "rubrics:fork": Route(EDIT, methods=("POST",)),
    "rubrics:diff": Route(VIEW),
    "rubrics:export": Route(VIEW),
    # API
    "rubric-list": Route(VIEW),
    "rubric-detail": Route(VIEW, pk="rubric"),
    "rubric-import": Route(EDIT, methods=("POST",), body=(("project", "project"),)),
    "rubric-versions": Route(VIEW, pk="rubric"),
    "rubric-promote": Route(PROMOTE, methods=("POST",), pk="rubric", body=PROMOTE_BODY),
    "rubric-version-detail": Route(VIEW, pk="version"),
    "rubric-version-publish": Route(
        EDIT, methods=("POST",), pk="draft_version", body=(("message", "publish_message"),)
    ),
    "rubric-version-diff": Route(VIEW, pk="version"),
    "rubric-version-export": Route(VIEW, pk="version"),
}
