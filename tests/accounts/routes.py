from apps.accounts.permissions import Capability
from tests.routes import LOGIN, PUBLIC, SUPERUSER, Route

ROUTES = {
    "home": Route(LOGIN),
    "dashboard": Route(Capability.PROJECT_VIEW),
    "project_create": Route(LOGIN, methods=("GET", "POST")),
    "members:list": Route(Capability.PROJECT_MANAGE),
    "members:add": Route(Capability.PROJECT_MANAGE, methods=("POST",)),
    "members:change": Route(Capability.PROJECT_MANAGE, methods=("POST",)),
    "accounts:login": Route(PUBLIC),
    "accounts:logout": Route(PUBLIC, methods=("POST",)),
    "auth-token": Route(PUBLIC, methods=("POST",)),
    "user-list": Route(SUPERUSER, methods=("GET", "POST")),
    "project-list": Route(LOGIN, methods=("GET",)),
    "project-detail": Route(Capability.PROJECT_VIEW, methods=("GET",), pk="project"),
    "project-members": Route(Capability.PROJECT_VIEW, methods=("GET",)),
    "project-member-detail": Route(
        Capability.PROJECT_MANAGE, methods=("DELETE",), pk="viewer_username"
    ),
}
