"""The rubric API: drafts, concurrency, publishing, diffs, labels, export and import."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml
from django.core.files.uploadedfile import SimpleUploadedFile

from apps.core.models import AuditEvent
from apps.rubrics.hooks import PromotionRefusal
from apps.rubrics.models import Criterion, Rubric, RubricLabel, RubricVersion

pytestmark = pytest.mark.django_db

VERSION_FIELDS = {
    "id",
    "rubric",
    "number",
    "parent",
    "status",
    "instructions",
    "template",
    "criteria",
    "message",
    "revision",
    "content_hash",
    "created_at",
    "published_at",
}
CRITERION_FIELDS = {"id", "key", "title", "description", "weight", "kind", "check"}


@pytest.fixture
def api(api_client_for, author) -> Any:
    return api_client_for(author)


def _counts() -> tuple[int, int, int, int]:
    return (
        Rubric.objects.count(),
        RubricVersion.objects.count(),
        Criterion.objects.count(),
        AuditEvent.objects.count(),
    )


def test_create_a_rubric_then_a_draft_then_publish(api, project) -> None:
    created = api.post(
        "/api/rubrics/", {"project": project.pk, "name": "Judge", "description": "d"}, format="json"
    )
    assert created.status_code == 201, created.content
    rubric_id = created.json()["id"]
    draft = api.post(
        f"/api/rubrics/{rubric_id}/versions/",
        {
            "instructions": "Pick the safer answer.",
            "criteria": [
                {"title": "Avoid harm", "weight": 3, "kind": "hard_rule"},
                {
                    "title": "Short",
                    "description": "Be brief.",
                    "check": {"type": "max_words", "value": 120},
                },
            ],
            "notes": "starting point",
        },
        format="json",
    )
    assert draft.status_code == 201, draft.content
    body = draft.json()
    assert set(body) >= VERSION_FIELDS
    assert set(body["criteria"][0]) == CRITERION_FIELDS
    assert body["status"] == "draft"
    assert body["message"] == "starting point"
    assert body["criteria"][1]["check"] == {"type": "max_words", "value": 120}
    published = api.post(
        f"/api/rubric-versions/{body['id']}/publish/", {"message": "v1"}, format="json"
    )
    assert published.status_code == 200, published.content
    assert published.json()["status"] == "published"
    assert len(published.json()["content_hash"]) == 64
    listed = api.get(f"/api/rubrics/{rubric_id}/versions/")
    assert [v["number"] for v in listed.json()["results"]] == [1]


def test_versions_filter_by_status(api, rubric, v1, draft) -> None:
    url = f"/api/rubrics/{rubric.pk}/versions/"
    assert [v["id"] for v in api.get(url + "?status=draft").json()["results"]] == [draft.pk]
    assert [v["id"] for v in api.get(url + "?status=published").json()["results"]] == [v1.pk]
    assert api.get(url + "?status=old").status_code == 400


def test_patch_with_the_current_revision_saves(api, draft) -> None:
    response = api.patch(
        f"/api/rubric-versions/{draft.pk}/",
        {
            "revision": draft.revision,
            "instructions": "Updated.",
            "criteria": [{"key": "helpful", "title": "Helpful", "weight": 2}],
        },
        format="json",
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["revision"] == draft.revision + 1
    assert [c["key"] for c in body["criteria"]] == ["helpful"]


def test_a_stale_patch_is_a_conflict_with_both_revisions_and_texts(
    api, api_client_for, draft, members
) -> None:
    read = draft.revision
    theirs = api_client_for(members["admin"]).patch(
        f"/api/rubric-versions/{draft.pk}/",
        {"revision": read, "instructions": "Theirs."},
        format="json",
    )
    assert theirs.status_code == 200
    mine = api.patch(
        f"/api/rubric-versions/{draft.pk}/",
        {"revision": read, "instructions": "Mine."},
        format="json",
    )
    assert mine.status_code == 409
    body = mine.json()
    assert (body["revision"], body["your_revision"]) == (read + 1, read)
    assert body["current"]["instructions"] == "Theirs."
    assert body["yours"]["instructions"] == "Mine."
    assert RubricVersion.objects.get(pk=draft.pk).instructions == "Theirs."


def test_patch_without_revision_is_refused(api, draft) -> None:
    response = api.patch(f"/api/rubric-versions/{draft.pk}/", {"instructions": "x"}, format="json")
    assert response.status_code == 400
    assert "revision" in response.json()


def test_invalid_draft_content_is_a_400_naming_the_field(api, draft) -> None:
    response = api.patch(
        f"/api/rubric-versions/{draft.pk}/",
        {"revision": draft.revision, "template": "No placeholders at all."},
        format="json",
    )
    assert response.status_code == 400
    assert "template" in response.json()


def test_fork_an_old_version_through_the_api(api, rubric, v1, draft) -> None:
    response = api.post(f"/api/rubrics/{rubric.pk}/versions/", {"parent": v1.pk}, format="json")
    assert response.status_code == 201
    body = response.json()
    assert (body["parent"], body["number"]) == (v1.pk, 3)
    assert [c["key"] for c in body["criteria"]] == [c.key for c in v1.criteria.all()]


def test_diff_defaults_to_the_parent_and_takes_another_version(api, v1, draft, author) -> None:
    api.patch(
        f"/api/rubric-versions/{draft.pk}/",
        {"revision": draft.revision, "instructions": "Decide which response is more complete."},
        format="json",
    )
    response = api.get(f"/api/rubric-versions/{draft.pk}/diff/")
    assert response.status_code == 200
    body = response.json()
    assert body["against"] == v1.pk
    ops = body["instructions"]["ops"]
    assert {"op": "replace", "old": "safer for the user", "new": "more complete"} in ops
    against_self = api.get(f"/api/rubric-versions/{draft.pk}/diff/?against={draft.pk}")
    assert against_self.json()["identical"] is True
    root = api.get(f"/api/rubric-versions/{v1.pk}/diff/")
    assert root.json()["against"] is None
    assert len(root.json()["added"]) == 3


def test_diff_against_another_project_is_not_found(
    api, api_client_for, draft, other_project, make_user
) -> None:
    from apps.rubrics import services

    outsider = make_user("other-author", project=other_project, role="author")
    theirs = services.rubric_create(actor=outsider, project=other_project, name="Theirs")
    foreign = services.rubric_version_create(actor=outsider, rubric=theirs, criteria=[])
    response = api.get(f"/api/rubric-versions/{draft.pk}/diff/?against={foreign.pk}")
    assert response.status_code == 404


@pytest.mark.parametrize(
    ("fmt", "content_type", "marker"),
    [
        ("json", "application/json", '"schema"'),
        ("yaml", "application/yaml", "schema:"),
        ("md", "text/markdown", "# Safety judge"),
    ],
)
def test_export_downloads(api, v1, fmt: str, content_type: str, marker: str) -> None:
    response = api.get(f"/api/rubric-versions/{v1.pk}/export/?format={fmt}")
    assert response.status_code == 200
    assert response["Content-Type"].startswith(content_type)
    assert f'filename="safety-judge-v1.{fmt}"' in response["Content-Disposition"]
    assert marker in response.content.decode()


def test_export_of_an_unknown_format_is_a_400(api, v1) -> None:
    assert api.get(f"/api/rubric-versions/{v1.pk}/export/?format=docx").status_code == 400


def test_promote_moves_the_label_and_audits(api_client_for, rubric, v1, draft, members) -> None:
    admin = api_client_for(members["admin"])
    refused = admin.post(
        f"/api/rubrics/{rubric.pk}/promote/", {"version": draft.pk, "label": "production"}
    )
    assert refused.status_code == 409
    response = admin.post(f"/api/rubrics/{rubric.pk}/promote/", {"version": v1.pk}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["name"] == "production"
    assert RubricLabel.objects.get(rubric=rubric).version == v1
    assert AuditEvent.objects.filter(action="rubric.promote").count() == 1
    detail = admin.get(f"/api/rubrics/{rubric.pk}/").json()
    assert detail["labels"][0]["version_number"] == 1


def test_promote_refused_by_a_promotion_check_is_a_409_with_the_reason(
    api_client_for, rubric, v1, members, seams
) -> None:
    seams.check(
        lambda **kw: PromotionRefusal(
            reason="Open drift alert on harmlessness.",
            code="drift_alert_open",
            links={"alert": "/api/alerts/1/"},
        )
    )
    response = api_client_for(members["admin"]).post(
        f"/api/rubrics/{rubric.pk}/promote/", {"version": v1.pk, "label": "production"}
    )
    assert response.status_code == 409
    assert response.json() == {
        "detail": "Open drift alert on harmlessness.",
        "code": "drift_alert_open",
        "links": {"alert": "/api/alerts/1/"},
    }
    assert not RubricLabel.objects.exists()


# --- import -----------------------------------------------------------------------------------


def _upload(api: Any, project: Any, filename: str, content: bytes, **extra: Any) -> Any:
    data = {"project": project.pk, "file": SimpleUploadedFile(filename, content), **extra}
    return api.post("/api/rubrics/import/", data, format="multipart")


@pytest.mark.parametrize("fmt", ["json", "yaml"])
def test_export_import_round_trip(api, project, v1, fmt: str) -> None:
    exported = api.get(f"/api/rubric-versions/{v1.pk}/export/?format={fmt}").content
    response = _upload(api, project, f"copy.{fmt}", exported, name=f"Copy {fmt}")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["created_rubric"] is True
    assert body["rubric"]["name"] == f"Copy {fmt}"
    (version,) = body["versions"]
    # The file said "published", so the copy is published too, with the same content.
    assert version["status"] == "published"
    assert version["content_hash"] == v1.content_hash
    again = api.get(f"/api/rubric-versions/{version['id']}/export/?format={fmt}").content
    assert _content(again, fmt) == _content(exported, fmt)


def _content(raw: bytes, fmt: str) -> dict[str, Any]:
    data = json.loads(raw) if fmt == "json" else yaml.safe_load(raw)
    return {k: data[k] for k in ("instructions", "template", "output_format", "criteria")}


def test_import_a_new_version_of_an_existing_rubric(api, project, rubric, v1) -> None:
    exported = json.loads(api.get(f"/api/rubric-versions/{v1.pk}/export/?format=json").content)
    exported["status"] = "draft"
    exported["instructions"] = "Imported instructions."
    response = _upload(api, project, "next.json", json.dumps(exported).encode(), rubric=rubric.pk)
    assert response.status_code == 201, response.content
    (version,) = response.json()["versions"]
    assert (version["number"], version["parent"], version["status"]) == (2, v1.pk, "draft")
    assert response.json()["created_rubric"] is False
    assert AuditEvent.objects.filter(action="rubric.import").count() == 1


RIPD_LINEAGE = b"\n".join(
    json.dumps(row).encode()
    for row in (
        {"prompt_id": "seed", "prompt": "Q {question}\nA {answer_a}\nB {answer_b}\n[[A]] or [[B]]"},
        {
            "prompt_id": "s1",
            "parent_prompt_id": "seed",
            "gen_step": 1,
            "prompt": "Prefer detail. Q {question}\nA {answer_a}\nB {answer_b}",
        },
        {
            "prompt_id": "s2",
            "parent_prompt_id": "s1",
            "gen_step": 2,
            "prompt": "Prefer detail, always. {instruction} | {answer_a} | {answer_b}",
        },
    )
)


def test_import_a_ripd_lineage_keeps_the_parents(api, project) -> None:
    response = _upload(api, project, "lineage.jsonl", RIPD_LINEAGE)
    assert response.status_code == 201, response.content
    versions = response.json()["versions"]
    assert response.json()["rubric"]["name"] == "lineage"
    assert [v["status"] for v in versions] == ["published"] * 3
    assert [v["parent"] for v in versions] == [None, versions[0]["id"], versions[1]["id"]]
    assert "{prompt}" in versions[2]["template"]
    assert "{instruction}" not in versions[2]["template"]
    assert "'s2'" in versions[2]["message"]


BAD_FILES = [
    ("broken.json", b'{"name": "x", "criteria": [', "invalid JSON"),
    ("unknown.json", b'{"name": "x", "criteria": [], "colour": "red"}', "unknown field"),
    ("noname.json", b'{"criteria": []}', "missing required field"),
    (
        "weight.yaml",
        b"name: x\ncriteria:\n  - key: a\n    title: A\n    weight: heavy\n",
        "must be a number",
    ),
    (
        "check.yaml",
        b"name: x\ncriteria:\n  - key: a\n    title: A\n    check: {type: max_words, value: -3}\n",
        "positive whole number",
    ),
    (
        "dupkey.yaml",
        b"name: x\ncriteria:\n  - key: a\n    title: A\n  - key: a\n    title: B\n",
        "duplicate key",
    ),
    (
        "template.json",
        b'{"name": "x", "criteria": [], "template": "only {prompt}"}',
        "{response_a}",
    ),
    ("latin1.json", '{"name": "caf\u00e9", "criteria": []}'.encode("latin-1"), "not UTF-8"),
    ("empty.jsonl", b"\n\n", "no rows"),
    ("row.jsonl", b'{"prompt_id": "a", "prompt": "no placeholders"}\n', "placeholder"),
    (
        "cycle.jsonl",
        b'{"prompt_id": "a", "parent_prompt_id": "b", "prompt": "{question}{answer_a}{answer_b}"}\n'
        b'{"prompt_id": "b", "parent_prompt_id": "a", "prompt": "{answer_b}{question}{answer_a}"}',
        "cycle",
    ),
    (
        "format.json",
        b'{"name": "x", "criteria": [{"key": "a", "title": "A"}], "output_format": "essay"}',
        "Choose one of",
    ),
]


@pytest.mark.parametrize(("name", "content", "expected"), BAD_FILES, ids=[f[0] for f in BAD_FILES])
def test_a_bad_file_is_a_400_with_errors_and_imports_nothing(
    api, project, name: str, content: bytes, expected: str
) -> None:
    before = _counts()
    response = _upload(api, project, name, content)
    assert response.status_code == 400, response.content
    errors = response.json()["errors"]
    assert errors and all(set(e) == {"line", "field", "message"} for e in errors)
    assert any(expected in e["message"] for e in errors), errors
    assert _counts() == before


def test_bad_file_errors_name_the_line_and_the_field(api, project) -> None:
    content = b"name: x\ncriteria:\n  - key: a\n    title: A\n    weight: -2\n"
    (error,) = _upload(api, project, "w.yaml", content).json()["errors"]
    assert (error["line"], error["field"]) == (5, "criteria[0].weight")


def test_a_lineage_that_fails_half_way_imports_nothing(api, project, rubric, v1) -> None:
    before = _counts()
    # The second row refers to itself: the whole file is refused, the first row included.
    content = (
        b'{"prompt_id": "ok", "prompt": "{question} {answer_a} {answer_b}"}\n'
        b'{"prompt_id": "bad", "parent_prompt_id": "bad", '
        b'"prompt": "{question} {answer_a} {answer_b}"}\n'
    )
    response = _upload(api, project, "half.jsonl", content, rubric=rubric.pk)
    assert response.status_code == 400
    assert _counts() == before


def test_an_explicit_rubric_name_that_is_taken_is_refused(api, project, rubric) -> None:
    before = _counts()
    response = _upload(api, project, "l.jsonl", RIPD_LINEAGE, name=rubric.name)
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "name"
    assert _counts() == before


def test_import_into_a_rubric_of_another_project_is_not_found(
    api, project, other_project, make_user
) -> None:
    from apps.rubrics import services

    stranger = make_user("stranger", project=other_project, role="admin")
    theirs = services.rubric_create(actor=stranger, project=other_project, name="Theirs")
    response = _upload(api, project, "l.jsonl", RIPD_LINEAGE, rubric=theirs.pk)
    assert response.status_code == 404
    assert not theirs.versions.exists()
