"""Demo step: the demo project and its users."""

from __future__ import annotations

import secrets

from django.contrib.auth import get_user_model

from apps.accounts.models import Membership, Project, Role
from apps.core.demo import DemoContext

DEMO_PROJECT_SLUG = "demo"
DEMO_USERS = (
    ("admin", Role.ADMIN),
    ("author", Role.AUTHOR),
    ("annotator", Role.ANNOTATOR),
    ("viewer", Role.VIEWER),
)


def seed_demo(ctx: DemoContext) -> None:
    """Create the demo project and the users ``admin``, ``author``, ``annotator``, ``viewer``.

    A new user gets a random password, printed once; an existing one keeps its password unless
    ``ctx.reset_passwords`` asks for new ones (``manage.py demo --new-passwords``).
    """
    project, _ = Project.objects.get_or_create(
        slug=DEMO_PROJECT_SLUG,
        defaults={
            "name": "Demo",
            "description": "Demo content: a guarded rubric, a reference set and the offline judge.",
        },
    )
    ctx.project = project
    User = get_user_model()
    for username, role in DEMO_USERS:
        user = User.objects.filter(username=username).first()
        if user is None:
            password = secrets.token_urlsafe(9)
            user = User.objects.create_user(
                username=username,
                password=password,
                is_staff=role == Role.ADMIN,
                is_superuser=role == Role.ADMIN,
            )
            ctx.new_passwords[username] = password
        elif ctx.reset_passwords:
            password = secrets.token_urlsafe(9)
            user.set_password(password)
            user.save(update_fields=["password"])
            ctx.new_passwords[username] = password
        Membership.objects.update_or_create(project=project, user=user, defaults={"role": role})
        ctx.users[username] = user
