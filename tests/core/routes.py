from tests.routes import PUBLIC, SUPERUSER, Route

ROUTES = {
    "healthz": Route(PUBLIC),
    "api-root": Route(PUBLIC),
    "schema": Route(PUBLIC, skip_reason="served to anyone; checked in tests/core/test_api_docs.py"),
    "docs": Route(PUBLIC, skip_reason="served to anyone; checked in tests/core/test_api_docs.py"),
    "admin:*": Route(
        SUPERUSER,
        skip_reason="Django admin has its own staff check; checked in tests/core/test_admin.py",
    ),
}
