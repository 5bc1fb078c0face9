"""Services: drafts, criteria, concurrency, publishing, forks and rollbacks, labels, the hooks."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import ValidationError

from apps.core.api import Conflict
from apps.core.models import AuditEvent
from apps.rubrics import hooks, services
from apps.rubrics.models import RubricLabel, RubricVersion
from apps.rubrics.spec import content_hash

pytestmark = pytest.mark.django_db


def test_versions_are_numbered_and_fork_from_the_newest_published(rubric, v1, author) -> None:
    second = services.rubric_version_create(actor=author, rubric=rubric)
    third = services.rubric_version_create(actor=author, rubric=rubric, parent=None)
    assert (v1.number, second.number, third.number) == (1, 2, 3)
    assert second.parent == v1
    assert third.parent is None
    assert second.status == "draft"
    # Omitted fields are copied from the parent, criteria keep their keys.
    assert second.instructions == v1.instructions
    assert [c.key for c in second.criteria.all()] == [c.key for c in v1.criteria.all()]
    assert list(third.criteria.all()) == []


def test_criterion_keys_come_from_titles_and_stay_unique(rubric, author) -> None:
    version = services.rubric_version_create(
        actor=author,
        rubric=rubric,
        criteria=[{"title": "Be safe"}, {"title": "Be safe"}, {"title": "X", "key": "be-safe-3"}],
    )
    assert [c.key for c in version.criteria.all()] == ["be-safe", "be-safe-2", "be-safe-3"]


def test_a_parent_of_another_rubric_is_refused(project, rubric, v1, author) -> None:
    other = services.rubric_create(actor=author, project=project, name="Other")
    with pytest.raises(ValidationError) as info:
        services.rubric_version_create(actor=author, rubric=other, parent=v1)
    assert "parent" in info.value.message_dict


def test_rubric_names_are_unique_per_project(project, rubric, author) -> None:
    with pytest.raises(ValidationError) as info:
        services.rubric_create(actor=author, project=project, name=rubric.name)
    assert "name" in info.value.message_dict


def test_draft_update_bumps_the_revision(draft, author) -> None:
    before = draft.revision
    updated = services.rubric_version_update(
        actor=author, version=draft, revision=before, instructions="New words."
    )
    assert updated.revision == before + 1
    assert RubricVersion.objects.get(pk=draft.pk).instructions == "New words."


def test_stale_revision_is_refused_and_nothing_is_saved(draft, author, members) -> None:
    read = draft.revision
    services.rubric_version_update(
        actor=members["admin"], version=draft, revision=read, instructions="Theirs."
    )
    with pytest.raises(services.StaleRevision) as info:
        services.rubric_version_update(
            actor=author, version=draft, revision=read, instructions="Mine."
        )
    assert info.value.version.instructions == "Theirs."
    assert info.value.payload["revision"] == read + 1
    assert info.value.payload["your_revision"] == read
    assert RubricVersion.objects.get(pk=draft.pk).instructions == "Theirs."


def test_criteria_replacement_keeps_rows_of_kept_keys(draft, author) -> None:
    kept = draft.criteria.get(key="helpful")
    services.rubric_version_update(
        actor=author,
        version=draft,
        revision=draft.revision,
        criteria=[
            {"key": "helpful", "title": "Helpful and relevant", "weight": 2},
            {"title": "Honest"},
        ],
    )
    criteria = list(draft.criteria.all())
    assert [c.key for c in criteria] == ["helpful", "honest"]
    assert criteria[0].pk == kept.pk
    assert criteria[0].title == "Helpful and relevant"


def test_invalid_criteria_name_the_criterion_and_the_field(draft, author) -> None:
    with pytest.raises(ValidationError) as info:
        services.rubric_version_update(
            actor=author,
            version=draft,
            revision=draft.revision,
            criteria=[{"title": ""}, {"title": "Ok", "weight": -1, "check": {"type": "nope"}}],
        )
    problems = " | ".join(info.value.message_dict["criteria"])
    assert "criterion 1, title" in problems
    assert "criterion 2, weight" in problems
    assert "criterion 2, check" in problems
    assert RubricVersion.objects.get(pk=draft.pk).revision == draft.revision


def test_criterion_operations_on_a_draft(draft, author) -> None:
    revision = draft.revision
    added = services.criterion_add(
        actor=author, version=draft, revision=revision, title="Completeness"
    )
    revision += 1
    assert [c.key for c in draft.criteria.all()][-1] == "completeness"
    services.criterion_move(actor=author, criterion=added, revision=revision, offset=-1)
    revision += 1
    assert [c.key for c in draft.criteria.all()] == [
        "avoid-harm",
        "helpful",
        "completeness",
        "short",
    ]
    services.criterion_update(
        actor=author, criterion=added, revision=revision, weight="2.5", kind="hard_rule"
    )
    revision += 1
    added.refresh_from_db()
    assert (added.weight, added.kind) == (2.5, "hard_rule")
    ids = [c.pk for c in draft.criteria.all()]
    services.criteria_reorder(actor=author, version=draft, revision=revision, order=ids[::-1])
    revision += 1
    assert [c.pk for c in draft.criteria.all()] == ids[::-1]
    services.criterion_remove(actor=author, criterion=added, revision=revision)
    revision += 1
    assert [c.position for c in draft.criteria.all()] == [0, 1, 2]
    assert RubricVersion.objects.get(pk=draft.pk).revision == revision


def test_criterion_update_refuses_bad_values_by_field(draft, author) -> None:
    criterion = draft.criteria.first()
    with pytest.raises(ValidationError) as info:
        services.criterion_update(
            actor=author,
            criterion=criterion,
            revision=draft.revision,
            title="  ",
            weight="heavy",
            check={"type": "regex", "value": "("},
        )
    assert set(info.value.message_dict) == {"title", "weight", "check"}
    criterion.refresh_from_db()
    assert criterion.title == "Avoid harm"


def test_reorder_must_name_every_criterion_once(draft, author) -> None:
    ids = [c.pk for c in draft.criteria.all()]
    with pytest.raises(ValidationError):
        services.criteria_reorder(
            actor=author, version=draft, revision=draft.revision, order=ids[:2]
        )


def test_publish_freezes_hashes_and_audits(draft, author) -> None:
    published = services.rubric_version_publish(
        actor=author, version=draft, message="  Second version.  "
    )
    assert published.status == "published"
    assert published.published_at is not None
    assert published.message == "Second version."
    assert published.content_hash == content_hash(published.to_spec())
    event = AuditEvent.objects.filter(action="rubric_version.publish", object_id=str(draft.pk))
    assert event.get().after["content_hash"] == published.content_hash


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"message": ""}, "message"),
        ({"message": "ok", "template": "Judge {prompt} and {response_a}."}, "template"),
        ({"message": "ok", "empty": True}, "criteria"),
    ],
)
def test_publish_refuses_what_cannot_be_judged(
    rubric, author, fields: dict[str, Any], problem: str
) -> None:
    version = services.rubric_version_create(
        actor=author,
        rubric=rubric,
        parent=None,
        criteria=[] if fields.get("empty") else [{"title": "Safe"}],
    )
    if "template" in fields:
        # A draft may hold an unfinished template only through the model (the services refuse).
        RubricVersion.objects.filter(pk=version.pk).update(template=fields["template"])
    with pytest.raises(ValidationError) as info:
        services.rubric_version_publish(actor=author, version=version, message=fields["message"])
    assert problem in info.value.message_dict
    assert RubricVersion.objects.get(pk=version.pk).status == "draft"


def test_publish_with_a_stale_revision_is_refused(draft, author) -> None:
    with pytest.raises(services.StaleRevision):
        services.rubric_version_publish(
            actor=author, version=draft, message="x", revision=draft.revision - 1
        )


def test_published_versions_refuse_every_service_write(v1, author) -> None:
    criterion = v1.criteria.first()
    attempts = [
        lambda: services.rubric_version_update(
            actor=author, version=v1, revision=v1.revision, instructions="x"
        ),
        lambda: services.criterion_add(actor=author, version=v1, revision=v1.revision),
        lambda: services.criterion_update(
            actor=author, criterion=criterion, revision=v1.revision, title="x"
        ),
        lambda: services.criterion_remove(actor=author, criterion=criterion, revision=v1.revision),
        lambda: services.criterion_move(
            actor=author, criterion=criterion, revision=v1.revision, offset=1
        ),
        lambda: services.rubric_version_publish(actor=author, version=v1, message="again"),
    ]
    for attempt in attempts:
        with pytest.raises(services.VersionNotDraft):
            attempt()
    assert RubricVersion.objects.get(pk=v1.pk).instructions != "x"


def test_rollback_is_a_fork_of_an_old_version_published_again(rubric, v1, draft, author) -> None:
    services.rubric_version_update(
        actor=author, version=draft, revision=draft.revision, instructions="Riskier wording."
    )
    v2 = services.rubric_version_publish(actor=author, version=draft, message="Riskier.")
    assert v2.content_hash != v1.content_hash
    rollback = services.rubric_version_fork(actor=author, version=v1)
    v3 = services.rubric_version_publish(actor=author, version=rollback, message="Roll back.")
    assert (v3.number, v3.parent_id) == (3, v1.pk)
    assert v3.content_hash == v1.content_hash


def test_label_moves_only_to_published_versions(rubric, v1, draft, members) -> None:
    admin = members["admin"]
    with pytest.raises(Conflict):
        services.rubric_label_move(actor=admin, rubric=rubric, version=draft, label="production")
    label = services.rubric_label_move(actor=admin, rubric=rubric, version=v1, label="production")
    assert (label.version, label.moved_by) == (v1, admin)
    v2 = services.rubric_version_publish(actor=admin, version=draft, message="Two.")
    services.rubric_label_move(actor=admin, rubric=rubric, version=v2, label="production")
    assert RubricLabel.objects.get(rubric=rubric, name="production").version == v2
    moves = AuditEvent.objects.filter(action="rubric.promote").order_by("id")
    assert [m.after["version"] for m in moves] == [1, 2]
    assert moves.last().before == {"label": "production", "version": 1}


def test_promotion_checks_decide_promotions(rubric, v1, members, seams) -> None:
    seen: list[dict[str, Any]] = []

    @seams.check
    def refuse_production(*, rubric: Any, version: Any, label: str, production: Any) -> Any:
        seen.append({"rubric": rubric, "version": version, "label": label, "prod": production})
        if label != "production":
            return None
        return hooks.PromotionRefusal(
            reason="v1 has an open drift alert.", code="drift", links={"alert": "/api/alerts/9/"}
        )

    with pytest.raises(Conflict) as info:
        services.rubric_label_move(
            actor=members["admin"], rubric=rubric, version=v1, label="production"
        )
    assert info.value.detail["detail"] == "v1 has an open drift alert."
    assert info.value.detail["links"] == {"alert": "/api/alerts/9/"}
    assert not RubricLabel.objects.filter(rubric=rubric).exists()
    refused = AuditEvent.objects.get(action="rubric.promote_refused")
    assert refused.after["reason"] == "v1 has an open drift alert."
    services.rubric_label_move(actor=members["admin"], rubric=rubric, version=v1, label="staging")
    assert [s["label"] for s in seen] == ["production", "staging"]
    assert seen[0]["version"] == v1 and seen[0]["prod"] is None


def test_a_refusal_follow_up_runs_after_the_refused_transaction(rubric, v1, members, seams) -> None:
    """A follow-up may write (start a check): it runs once the promotion's transaction is over,
    and its refusal is the one answered."""
    calls: list[bool] = []

    def follow_up() -> hooks.PromotionRefusal:
        calls.append(RubricLabel.objects.filter(rubric=rubric).exists())
        return hooks.PromotionRefusal(reason="Check started.", code="started")

    seams.check(
        lambda **kw: hooks.PromotionRefusal(reason="Missing.", code="missing", follow_up=follow_up)
    )
    with pytest.raises(Conflict) as info:
        services.rubric_label_move(actor=members["admin"], rubric=rubric, version=v1)
    assert info.value.detail == {"detail": "Check started.", "code": "started"}
    assert calls == [False]


def test_a_label_move_is_announced_inside_its_transaction(rubric, v1, members, seams) -> None:
    moves: list[tuple[int, str, Any]] = []

    def receiver(sender: Any, rubric: Any, version: Any, label: str, previous: Any, **kw: Any):
        moves.append((version.number, label, previous))

    seams.label_moved.connect(receiver)
    services.rubric_label_move(actor=members["admin"], rubric=rubric, version=v1)
    assert moves == [(1, "production", None)]

    def broken(sender: Any, **kwargs: Any) -> None:
        raise RuntimeError("the receiver failed")

    seams.label_moved.connect(broken)
    with pytest.raises(RuntimeError):
        services.rubric_label_move(actor=members["admin"], rubric=rubric, version=v1, label="qa")
    # A receiver that raises undoes the move it was told about.
    assert not RubricLabel.objects.filter(rubric=rubric, name="qa").exists()
    assert moves == [(1, "production", None), (1, "qa", None)]


def test_publishing_announces_the_version_after_commit(
    draft, author, seams, django_capture_on_commit_callbacks
) -> None:
    calls: list[int] = []

    def receiver(sender: Any, version_id: int, **kwargs: Any) -> None:
        calls.append(version_id)

    seams.version_published.connect(receiver)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.rubric_version_publish(actor=author, version=draft, message="Two.")
    assert calls == []  # not before the commit
    for callback in callbacks:
        callback()
    assert calls == [draft.pk]


FORBIDDEN = ("apps.drift", "apps.annotations")


def test_the_rubrics_app_imports_nothing_of_the_drift_app() -> None:
    """Drift plugs in through apps.rubrics.hooks; rubrics never reaches for it, not even by a
    module name in a string."""
    found = []
    for path in sorted(Path(services.__file__).parent.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                names = [node.value] if node.value.startswith("apps.") else []
            found += [
                f"{path.name}: {n}"
                for n in names
                if n.startswith(("apps.drift", "apps.annotations"))
            ]
    assert found == []


def test_every_draft_write_is_audited_without_copying_the_text(draft, author) -> None:
    criterion = draft.criteria.get(key="helpful")
    services.rubric_version_update(
        actor=author, version=draft, revision=draft.revision, instructions="Long secret text."
    )
    services.criterion_update(
        actor=author, criterion=criterion, revision=draft.revision + 1, weight=2
    )
    events = list(
        AuditEvent.objects.filter(action="rubric_version.edit", object_id=str(draft.pk)).order_by(
            "id"
        )
    )
    assert [e.after for e in events] == [
        {"revision": draft.revision + 1, "fields": ["instructions"]},
        {
            "revision": draft.revision + 2,
            "criterion": "helpful",
            "change": "update",
            "fields": ["weight"],
        },
    ]
    assert all(e.actor == author for e in events)
    assert "Long secret text." not in str([e.after for e in events])
