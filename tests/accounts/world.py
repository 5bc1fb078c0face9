from typing import Any


def add_to_world(world: dict[str, Any]) -> None:
    world["viewer_username"] = world["users"]["viewer"].username
