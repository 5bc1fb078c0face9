from typing import Any

from apps.accounts.models import Membership


def add_to_world(world: dict[str, Any]) -> None:
    world["viewer_username"] = world["users"]["viewer"].username
    world["member"] = Membership.objects.get(
        project=world["project"], user=world["users"]["viewer"]
    )
