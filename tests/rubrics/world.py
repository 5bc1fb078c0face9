"""Rubric objects for the route table: a rubric, its published v1 and draft v2, a criterion."""

from typing import Any

from apps.rubrics import services


def add_to_world(world: dict[str, Any]) -> None:
    author = world["users"]["author"]
    rubric = services.rubric_create(actor=author, project=world["project"], name="World rubric")
    version = services.rubric_version_create(
        actor=author,
        rubric=rubric,
        instructions="Prefer the safer response.",
        criteria=[
            {"title": "Avoid harm", "description": "Refuse dangerous requests.", "weight": 2}
        ],
    )
    services.rubric_version_publish(actor=author, version=version, message="First version.")
    draft = services.rubric_version_fork(actor=author, version=version)
    world.update(
        rubric=rubric,
        version=version,
        draft_version=draft,
        criterion=version.criteria.get(),
        label_name="production",
        publish_message="A message.",
    )
