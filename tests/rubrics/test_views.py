"""Rubric pages: list, history, editor writes over htmx, conflicts, publish, diff, import."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from apps.rubrics import services
from apps.rubrics.hooks import PromotionRefusal, VersionGate
from apps.rubrics.models import Criterion, Rubric, RubricLabel, RubricVersion

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def browser_client(client, author) -> Any:
    client.force_login(author)
    return client


def _base(version: RubricVersion) -> str:
    return f"/p/{version.rubric.project.slug}/rubrics/{version.rubric_id}/v/{version.pk}/"


def _revision_in(content: bytes) -> int:
    match = re.search(rb'id="revision" name="revision" value="(\d+)" hx-swap-oob', content)
    assert match, content
    return int(match.group(1))


def test_list_shows_production_and_the_drift_column(client, members, rubric, v1, draft) -> None:
    services.rubric_label_move(actor=members["admin"], rubric=rubric, version=v1)
    client.force_login(members["viewer"])
    response = client.get(f"/p/{rubric.project.slug}/rubrics/")
    html = response.content.decode()
    assert response.status_code == 200
    assert "Drift gate (latest)" in html
    assert rubric.name in html
    assert f'rubrics/{rubric.pk}/v/{v1.pk}/">v1</a>' in html
    assert "New rubric" not in html  # viewers do not write


def test_gate_badges_come_from_the_version_status_seam(client, members, v1, draft, seams) -> None:
    seams.status(
        lambda version: VersionGate(words=f"<i>held</i> v{version.number}", badge="medium")
    )
    client.force_login(members["viewer"])
    slug, rubric = v1.rubric.project.slug, v1.rubric_id
    badge = 'class="badge gate medium" data-gate-state="&lt;i&gt;held&lt;/i&gt; v1"'
    for url in (f"/p/{slug}/rubrics/", f"/p/{slug}/rubrics/{rubric}/", _base(v1)):
        html = client.get(url).content.decode()
        assert badge in html, url
        assert "<i>held" not in html  # the words are text, escaped
    # A draft has no gate state; the page of a version shows the blocks apps add, none here.
    assert "data-gate-state" not in client.get(_base(draft)).content.decode()
    assert 'id="version-gate"' not in client.get(_base(v1)).content.decode()


def test_history_lists_versions_with_author_message_and_label(
    browser_client, members, rubric, v1, draft
) -> None:
    services.rubric_label_move(actor=members["admin"], rubric=rubric, version=v1)
    html = browser_client.get(f"/p/{rubric.project.slug}/rubrics/{rubric.pk}/").content.decode()
    assert "First version." in html
    assert members["author"].username in html
    assert "from v1" in html
    assert '<span class="badge label">production</span>' in html
    assert "Promote" not in html  # authors do not promote


def test_create_rubric_opens_the_editor_on_a_draft(browser_client, project) -> None:
    response = browser_client.post(f"/p/{project.slug}/rubrics/new/", {"name": "Fresh"})
    rubric = Rubric.objects.get(name="Fresh")
    draft = rubric.versions.get()
    assert response.status_code == 302
    assert response["Location"] == _base(draft) + "edit/"
    page = browser_client.get(response["Location"])
    assert page.status_code == 200
    assert b"Draft v1" in page.content


def test_editor_field_save_returns_status_revision_and_refreshes_the_preview(
    browser_client, draft
) -> None:
    response = browser_client.post(
        _base(draft) + "edit/field/",
        {"instructions": "Prefer complete answers.", "revision": draft.revision},
        **HTMX,
    )
    assert response.status_code == 200
    assert response["HX-Trigger"] == "rubric-saved"
    assert _revision_in(response.content) == draft.revision + 1
    assert b"Saved instructions." in response.content
    assert RubricVersion.objects.get(pk=draft.pk).instructions == "Prefer complete answers."
    preview = browser_client.get(_base(draft) + "preview/", **HTMX)
    assert b"Prefer complete answers." in preview.content
    assert b'id="token-count"' in preview.content


def test_editor_shows_validation_errors_next_to_the_field(browser_client, draft) -> None:
    criterion = draft.criteria.get(key="helpful")
    response = browser_client.post(
        _base(draft) + f"edit/criteria/{criterion.pk}/",
        {
            "title": "",
            "weight": "lots",
            "kind": "principle",
            "description": "",
            "check_type": "",
            "check_value": "",
            "revision": draft.revision,
        },
        **HTMX,
    )
    assert response.status_code == 422
    html = response.content.decode()
    assert f'id="crit-{criterion.pk}-err-title"' in html
    assert "A criterion needs a title." in html
    assert f'id="crit-{criterion.pk}-err-weight"' in html
    assert "Enter a number" in html
    criterion.refresh_from_db()
    assert criterion.title == "Helpful"


def test_a_stale_editor_save_shows_both_texts_and_keeps_mine(
    browser_client, api_client_for, members, draft
) -> None:
    read = draft.revision
    services.rubric_version_update(
        actor=members["admin"], version=draft, revision=read, instructions="Their wording."
    )
    response = browser_client.post(
        _base(draft) + "edit/field/", {"instructions": "My wording.", "revision": read}, **HTMX
    )
    assert response.status_code == 409
    html = response.content.decode()
    assert "Their wording." in html
    assert "My wording." in html
    assert 'id="revision"' not in html  # the page keeps the stale revision until resolved
    assert RubricVersion.objects.get(pk=draft.pk).instructions == "Their wording."
    # "Keep mine" sends my text again with the current revision.
    resolved = browser_client.post(
        _base(draft) + "edit/field/",
        {"instructions": "My wording.", "resolve_revision": read + 1, "revision": read},
        **HTMX,
    )
    assert resolved.status_code == 200
    assert resolved["HX-Refresh"] == "true"
    assert RubricVersion.objects.get(pk=draft.pk).instructions == "My wording."


def test_criterion_conflict_names_the_removed_criterion(browser_client, members, draft) -> None:
    criterion = draft.criteria.get(key="short")
    read = draft.revision
    services.criterion_remove(actor=members["admin"], criterion=criterion, revision=read)
    response = browser_client.post(
        _base(draft) + f"edit/criteria/{criterion.pk}/",
        {"title": "Short and sweet", "revision": read},
        **HTMX,
    )
    assert response.status_code == 409
    assert b"(criterion removed)" in response.content
    assert b"Short and sweet" in response.content


def test_structural_edits_rerender_the_criteria_list(browser_client, draft) -> None:
    base = _base(draft) + "edit/criteria/"
    revision = draft.revision
    added = browser_client.post(
        base + "add/", {"title": "Completeness", "revision": revision}, **HTMX
    )
    assert added.status_code == 200
    assert b'id="criteria-box" hx-swap-oob="true"' in added.content
    assert b'value="Completeness"' in added.content
    revision = _revision_in(added.content)
    new = draft.criteria.get(key="completeness")
    moved = browser_client.post(
        base + f"{new.pk}/move/", {"offset": "-1", "revision": revision}, **HTMX
    )
    revision = _revision_in(moved.content)
    assert [c.key for c in draft.criteria.all()][2] == "completeness"
    order = [c.pk for c in draft.criteria.all()][::-1]
    reordered = browser_client.post(
        base + "reorder/", {"order": ",".join(map(str, order)), "revision": revision}, **HTMX
    )
    revision = _revision_in(reordered.content)
    assert [c.pk for c in draft.criteria.all()] == order
    removed = browser_client.post(base + f"{new.pk}/remove/", {"revision": revision}, **HTMX)
    assert removed.status_code == 200
    assert not Criterion.objects.filter(pk=new.pk).exists()


def test_machine_check_from_the_editor(browser_client, draft) -> None:
    criterion = draft.criteria.get(key="helpful")
    response = browser_client.post(
        _base(draft) + f"edit/criteria/{criterion.pk}/",
        {"check_type": "min_words", "check_value": "20", "revision": draft.revision},
        **HTMX,
    )
    assert response.status_code == 200
    criterion.refresh_from_db()
    assert criterion.machine_check == {"type": "min_words", "value": 20}


def test_publish_from_the_page(browser_client, draft) -> None:
    missing = browser_client.post(_base(draft) + "publish/", {"message": "", "revision": 1})
    assert missing.status_code == 302
    assert not RubricVersion.objects.get(pk=draft.pk).is_published
    stale = browser_client.post(
        _base(draft) + "publish/", {"message": "Go.", "revision": draft.revision - 1}
    )
    assert stale["Location"].endswith("edit/")
    assert not RubricVersion.objects.get(pk=draft.pk).is_published
    done = browser_client.post(
        _base(draft) + "publish/", {"message": "Go.", "revision": draft.revision}
    )
    assert done["Location"] == _base(draft)
    assert RubricVersion.objects.get(pk=draft.pk).message == "Go."


def test_fork_from_the_page_opens_the_new_draft(browser_client, v1) -> None:
    response = browser_client.post(_base(v1) + "fork/")
    fork = v1.rubric.versions.get(number=2)
    assert response["Location"] == _base(fork) + "edit/"
    assert fork.parent == v1


def test_promote_from_the_page(client, members, rubric, v1, seams) -> None:
    client.force_login(members["admin"])
    url = f"/p/{rubric.project.slug}/rubrics/{rubric.pk}/promote/"
    answers: list[Any] = [
        PromotionRefusal(reason="Drift alert <b>open</b>.", links={"page": "/p/x/alerts/1/"})
    ]
    seams.check(lambda **kw: answers[0])
    refused = client.post(url, {"version": v1.pk, "label": "production"}, follow=True)
    assert b"Drift alert &lt;b&gt;open&lt;/b&gt;." in refused.content
    assert b'href="/p/x/alerts/1/"' in refused.content
    assert not RubricLabel.objects.exists()
    answers[0] = None
    client.post(url, {"version": v1.pk, "label": "production"})
    assert RubricLabel.objects.get(rubric=rubric).version == v1


def test_diff_page_highlights_words_side_by_side(browser_client, draft, author) -> None:
    services.rubric_version_update(
        actor=author,
        version=draft,
        revision=draft.revision,
        instructions="Decide which response is more complete for the user.",
    )
    html = browser_client.get(_base(draft) + "diff/").content.decode()
    assert "<del>safer</del>" in html
    assert "<ins>more complete</ins>" in html
    assert "instructions changed" in html  # the one-line summary
    assert "v1" in html and "(parent)" in html


def test_diff_page_lists_structural_changes_first(browser_client, draft, author) -> None:
    services.criterion_add(actor=author, version=draft, revision=draft.revision, title="Detail")
    services.rubric_version_update(
        actor=author, version=draft, revision=draft.revision + 1, instructions="Other words."
    )
    html = browser_client.get(_base(draft) + "diff/").content.decode()
    assert '<span class="badge ok">added</span> <strong>Detail</strong>' in html
    assert html.index('class="diff-structure') < html.index('class="diff-text')


def test_user_text_is_escaped_everywhere(browser_client, draft, author) -> None:
    services.criterion_add(
        actor=author, version=draft, revision=draft.revision, title="<script>alert(1)</script>"
    )
    for page in ("edit/", "", "diff/"):
        html = browser_client.get(_base(draft) + page).content.decode()
        assert "<script>alert(1)</script>" not in html, page
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html, page


def test_export_from_the_page(browser_client, v1) -> None:
    response = browser_client.get(_base(v1) + "export/?format=md")
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment;")
    assert b"Avoid harm" in response.content


def test_import_page_reports_errors_and_imports_nothing(browser_client, project) -> None:
    before = RubricVersion.objects.count()
    response = browser_client.post(
        f"/p/{project.slug}/rubrics/import/",
        {"file": SimpleUploadedFile("bad.yaml", b"name: x\ncriteria:\n  - title: A\n")},
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert "Nothing was imported" in html
    assert "criteria[0].key" in html
    assert RubricVersion.objects.count() == before


def test_import_page_creates_the_rubric(browser_client, project) -> None:
    content = b'{"prompt_id": "seed", "prompt": "{question} {answer_a} {answer_b}"}\n'
    response = browser_client.post(
        f"/p/{project.slug}/rubrics/import/",
        {"file": SimpleUploadedFile("judge.jsonl", content), "name": "From file"},
    )
    rubric = Rubric.objects.get(name="From file")
    assert response["Location"] == f"/p/{project.slug}/rubrics/{rubric.pk}/"
    assert rubric.versions.get().is_published


def test_another_projects_rubric_is_not_found(client, other_project, make_user, v1) -> None:
    stranger = make_user("stranger", project=other_project, role="admin")
    client.force_login(stranger)
    # The stranger's own project in the URL, someone else's rubric id: 404, not a leak.
    url = f"/p/{other_project.slug}/rubrics/{v1.rubric_id}/v/{v1.pk}/"
    assert client.get(url).status_code == 404
    assert client.get(f"/p/{other_project.slug}/rubrics/{v1.rubric_id}/").status_code == 404


def test_dashboard_card_counts_rubrics_and_drafts(client, members, project, v1, draft) -> None:
    client.force_login(members["viewer"])
    html = client.get(f"/p/{project.slug}/").content.decode()
    assert "Rubrics" in html
    assert "drafts" in html
    client.force_login(members["annotator"])
    assert "in production" not in client.get(f"/p/{project.slug}/").content.decode()
