"""The annotation API: queues, the blind ``next`` payload, labels, skip/undo, agreement."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import krippendorff
import numpy as np
import pytest

from apps.annotations.models import Annotation, AnnotationQueue, Assignment
from apps.core.models import AuditEvent
from apps.datasets import services as datasets_services
from apps.datasets.models import Pair
from tests.factories import criteria_for, make_queue, make_simple_dataset, make_version

pytestmark = pytest.mark.django_db

SHARED_DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
PAIR_FIELDS = {"id", "dataset", "external_id", "prompt", "response_a", "response_b", "domain"}


def queues_url(pk: int | None = None, action: str = "") -> str:
    base = "/api/annotation-queues/"
    if pk is None:
        return base
    return f"{base}{pk}/{action + '/' if action else ''}"


# --- queues ------------------------------------------------------------------------------------


def test_admins_create_queues_with_usernames(
    project: Any, members: dict[str, Any], annotators: list[Any], api_client_for: Any
) -> None:
    dataset = make_simple_dataset(project, n=4, domains=("code", "safety"))
    version = make_version(project, criteria=criteria_for("helpful", "safe"), published=False)
    body = {
        "project": project.pk,
        "dataset": dataset.pk,
        "rubric_version": version.pk,
        "overlap": 2,
        "annotators": [annotators[0].username, annotators[1].username],
        "domains": ["code"],
        "instructions": "Be careful.",
    }
    response = api_client_for(members["admin"]).post(queues_url(), body, format="json")
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["annotators"] == sorted(body["annotators"])
    assert (data["overlap"], data["dataset"], data["rubric_version"]) == (2, dataset.pk, version.pk)
    assert data["domains"] == ["code"]
    assert data["progress"] == {
        "pairs": 2,
        "labels_done": 0,
        "labels_needed": 4,
        "complete_pairs": 0,
    }
    assert AnnotationQueue.objects.get(pk=data["id"]).created_by == members["admin"]

    for role, status in (("author", 403), ("annotator", 403), ("viewer", 403), ("outsider", 404)):
        refused = api_client_for(members[role]).post(queues_url(), body, format="json")
        assert refused.status_code == status, role
    assert AnnotationQueue.objects.count() == 1


@pytest.mark.parametrize(
    "change,field",
    [
        ({"annotators": ["nobody-by-that-name"]}, "annotators"),
        ({"annotators": ["viewer1"]}, "annotators"),
        ({"overlap": 3}, "annotators"),
        ({"domains": ["law"]}, "domains"),
        ({"rubric_version": 999999}, "rubric_version"),
        ({"min_agreement": 1.5}, "min_agreement"),
    ],
)
def test_queue_creation_errors_name_the_field(
    project: Any,
    members: dict[str, Any],
    annotators: list[Any],
    api_client_for: Any,
    change: dict[str, Any],
    field: str,
) -> None:
    dataset = make_simple_dataset(project, n=2)
    body = {
        "project": project.pk,
        "dataset": dataset.pk,
        "overlap": 1,
        "annotators": [annotators[0].username, annotators[1].username],
        **change,
    }
    response = api_client_for(members["admin"]).post(queues_url(), body, format="json")
    assert response.status_code == 400
    assert field in response.json()


def test_queue_from_another_projects_dataset_is_refused(
    project: Any, other_project: Any, members: dict[str, Any], api_client_for: Any
) -> None:
    foreign = make_simple_dataset(other_project, n=1)
    body = {"project": project.pk, "dataset": foreign.pk, "annotators": ["annotator1"]}
    response = api_client_for(members["admin"]).post(queues_url(), body, format="json")
    assert response.status_code == 400
    assert "dataset" in response.json()


def test_lists_show_assigned_queues_to_annotators_and_all_to_admins(
    project: Any, members: dict[str, Any], annotators: list[Any], api_client_for: Any
) -> None:
    dataset = make_simple_dataset(project, n=2)
    mine = make_queue(project, dataset=dataset, annotators=[annotators[0]], name="Mine")
    make_queue(project, dataset=dataset, annotators=[annotators[1]], name="Theirs")

    def names(user: Any) -> list[str]:
        response = api_client_for(user).get(queues_url())
        assert response.status_code == 200
        return sorted(queue["name"] for queue in response.json()["results"])

    assert names(annotators[0]) == ["Mine"]
    assert names(members["admin"]) == ["Mine", "Theirs"]
    # Roles that never annotate are refused rather than shown an empty list.
    assert api_client_for(members["viewer"]).get(queues_url()).status_code == 403
    assert api_client_for(members["outsider"]).get(queues_url()).status_code == 403
    detail = api_client_for(annotators[0]).get(queues_url(mine.pk))
    assert detail.status_code == 200
    assert api_client_for(annotators[1]).get(queues_url(mine.pk)).status_code == 403


def test_a_page_of_queues_costs_the_same_queries_however_many_queues(
    project: Any, members: dict[str, Any], annotators: list[Any], api_client_for: Any
) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = api_client_for(members["admin"])
    dataset = make_simple_dataset(project, n=4, domains=("helpfulness", "harmlessness"))

    def listed() -> tuple[int, dict[str, Any]]:
        with CaptureQueriesContext(connection) as queries:
            response = client.get(queues_url())
        assert response.status_code == 200
        return len(queries), {q["name"]: q["progress"] for q in response.json()["results"]}

    make_queue(project, dataset=dataset, annotators=annotators[:1], name="q0")
    listed()  # the first request of a client also looks up what later ones have cached
    one, _ = listed()
    for i in range(1, 4):
        make_queue(
            project,
            dataset=dataset,
            annotators=annotators[:1],
            name=f"q{i}",
            domains=["harmlessness"],
        )
    four, progress = listed()
    assert four == one
    assert progress["q0"] == {"pairs": 4, "labels_done": 0, "labels_needed": 4, "complete_pairs": 0}
    # The domain filter counts only the queue's domains.
    assert progress["q1"]["pairs"] == 2


def test_admins_change_annotators_and_threshold(
    project: Any, members: dict[str, Any], annotators: list[Any], api_client_for: Any
) -> None:
    queue = make_queue(
        project, dataset=make_simple_dataset(project, n=2), annotators=annotators[:1]
    )
    body = {"annotators": [annotators[1].username, annotators[2].username], "min_agreement": 0.75}
    refused = api_client_for(members["author"]).patch(queues_url(queue.pk), body, format="json")
    assert refused.status_code == 403
    response = api_client_for(members["admin"]).patch(queues_url(queue.pk), body, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["annotators"] == sorted(body["annotators"])
    assert response.json()["min_agreement"] == 0.75
    event = AuditEvent.objects.get(action="annotation_queue.update")
    assert event.before is not None and event.after is not None
    assert event.before["annotators"] == [annotators[0].username]


# --- the annotator's side ----------------------------------------------------------------------


def test_next_is_blind(project: Any, annotators: list[Any], api_client_for: Any) -> None:
    from apps.judging.models import JudgeConfig, JudgingRun, Judgment

    turns = [{"role": "human", "text": "Hi"}, {"role": "assistant", "text": "Hello"}]
    dataset = make_simple_dataset(
        project,
        n=2,
        gold="B",
        metadata={"turns": turns, "labels": {"annotator1": 2}, "cmp_key": "model-x_model-y"},
    )
    one, two = annotators[:2]
    queue = make_queue(project, dataset=dataset, annotators=[one, two], overlap=2)
    # Someone else's label and a judge's verdict exist for every pair.
    for pair in dataset.pairs.all():
        Annotation.objects.create(pair=pair, annotator=two, choice="A", imported=True)
    version = make_version(project, criteria=criteria_for("helpful", "safe"), published=False)
    judge = JudgeConfig.objects.create(project=project, name="j", backend="offline", model="rules")
    run = JudgingRun.objects.create(
        project=project, rubric_version=version, judge=judge, dataset=dataset
    )
    for pair in dataset.pairs.all():
        Judgment.objects.create(run=run, pair=pair, order="AB", verdict="A")

    response = api_client_for(one).get(queues_url(queue.pk, "next"))

    assert response.status_code == 200
    data = response.json()
    assert set(data) == {"pair", "assignment", "progress"}
    assert set(data["pair"]) == PAIR_FIELDS | {"metadata"}
    assert data["pair"]["metadata"] == {"turns": turns}
    assert data["progress"] == {"done": 0, "total": 2}
    text = json.dumps(data)
    for leak in ('"gold_label"', "verdict", "model-x", "annotator1", '"choice"', "judg"):
        assert leak not in text
    assignment = Assignment.objects.get(pk=data["assignment"])
    assert (assignment.annotator, assignment.pair_id) == (one, data["pair"]["id"])


def test_only_assigned_annotators_get_next(
    project: Any, members: dict[str, Any], annotators: list[Any], api_client_for: Any
) -> None:
    queue = make_queue(
        project, dataset=make_simple_dataset(project, n=2), annotators=annotators[:1]
    )
    assert api_client_for(annotators[1]).get(queues_url(queue.pk, "next")).status_code == 403
    assert api_client_for(members["viewer"]).get(queues_url(queue.pk, "next")).status_code == 403
    assert api_client_for(members["outsider"]).get(queues_url(queue.pk, "next")).status_code == 404
    assert api_client_for(None).get(queues_url(queue.pk, "next")).status_code in (401, 403)
    assert not Assignment.objects.exists()


def test_label_flow_through_the_api(
    project: Any, annotators: list[Any], api_client_for: Any
) -> None:
    version = make_version(project, criteria=criteria_for("helpful"), published=False)
    criterion = version.criteria.get()
    queue = make_queue(
        project,
        dataset=make_simple_dataset(project, n=3),
        annotators=annotators[:1],
        rubric_version=version,
    )
    client = api_client_for(annotators[0])
    first = client.get(queues_url(queue.pk, "next")).json()
    body = {
        "queue": queue.pk,
        "pair": first["pair"]["id"],
        "choice": "tie",
        "rationale": "Both fine.",
        "criteria": {str(criterion.pk): "A"},
        "confidence": 3,
        "time_spent_ms": 4200,
    }
    response = client.post("/api/annotations/", body, format="json")
    assert response.status_code == 201, response.content
    saved = response.json()
    assert (saved["choice"], saved["criteria"], saved["annotator"]) == (
        "tie",
        {str(criterion.pk): "A"},
        annotators[0].username,
    )
    assert saved["progress"] == {"done": 1, "total": 3}
    again = client.post("/api/annotations/", body, format="json")
    assert again.status_code == 409

    second = client.get(queues_url(queue.pk, "next")).json()
    assert second["pair"]["id"] != first["pair"]["id"]
    assert second["progress"] == {"done": 1, "total": 3}
    bad = client.post(
        "/api/annotations/",
        {"queue": queue.pk, "pair": second["pair"]["id"], "choice": "C"},
        format="json",
    )
    assert bad.status_code == 400
    unassigned = queue.dataset.pairs.exclude(
        pk__in=[first["pair"]["id"], second["pair"]["id"]]
    ).get()
    not_handed = client.post(
        "/api/annotations/",
        {"queue": queue.pk, "pair": unassigned.pk, "choice": "A"},
        format="json",
    )
    assert not_handed.status_code == 409

    skipped = client.post(queues_url(queue.pk, "skip"), {}, format="json")
    assert skipped.status_code == 200
    assert skipped.json()["pair"]["id"] == unassigned.pk

    undone = client.post(queues_url(queue.pk, "undo"), {}, format="json")
    assert undone.status_code == 200
    assert undone.json()["pair"]["id"] == first["pair"]["id"]
    assert undone.json()["previous"]["choice"] == "tie"
    assert undone.json()["previous"]["rationale"] == "Both fine."
    assert not Annotation.objects.filter(queue=queue).exists()
    nothing = client.post(queues_url(queue.pk, "undo"), {}, format="json")
    assert nothing.status_code == 409


def test_next_is_204_when_nothing_is_left(
    project: Any, annotators: list[Any], api_client_for: Any
) -> None:
    queue = make_queue(
        project, dataset=make_simple_dataset(project, n=1), annotators=annotators[:1]
    )
    client = api_client_for(annotators[0])
    first = client.get(queues_url(queue.pk, "next")).json()
    client.post(
        "/api/annotations/",
        {"queue": queue.pk, "pair": first["pair"]["id"], "choice": "A"},
        format="json",
    )
    assert client.get(queues_url(queue.pk, "next")).status_code == 204


def test_annotators_of_another_project_cannot_post(
    project: Any,
    other_project: Any,
    members: dict[str, Any],
    annotators: list[Any],
    api_client_for: Any,
) -> None:
    queue = make_queue(
        project, dataset=make_simple_dataset(project, n=1), annotators=annotators[:1]
    )
    pair = queue.dataset.pairs.get()
    body = {"queue": queue.pk, "pair": pair.pk, "choice": "A"}
    assert (
        api_client_for(members["outsider"])
        .post("/api/annotations/", body, format="json")
        .status_code
        == 404
    )
    assert (
        api_client_for(members["viewer"]).post("/api/annotations/", body, format="json").status_code
        == 403
    )
    assert (
        api_client_for(annotators[1]).post("/api/annotations/", body, format="json").status_code
        == 403
    )


# --- agreement ---------------------------------------------------------------------------------

# Two annotators, ten pairs (domains alternate code / safety).
FIRST = ["A", "A", "A", "B", "B", "tie", "A", "B", "A", "tie"]
SECOND = ["A", "A", "B", "B", "B", "tie", "A", "A", "A", "B"]


def _label_through_api(
    client: Any, queue: AnnotationQueue, labels: list[str], criteria: dict[str, str]
) -> None:
    while (response := client.get(queues_url(queue.pk, "next"))).status_code == 200:
        pair = response.json()["pair"]
        index = int(pair["external_id"][1:])
        body = {
            "queue": queue.pk,
            "pair": pair["id"],
            "choice": labels[index],
            "criteria": criteria,
        }
        assert client.post("/api/annotations/", body, format="json").status_code == 201


def _cohen(first: list[str], second: list[str]) -> float:
    """Cohen's kappa from its definition: (observed - chance) / (1 - chance)."""
    n = len(first)
    observed = sum(a == b for a, b in zip(first, second, strict=True)) / n
    left, right = Counter(first), Counter(second)
    chance = sum(left[label] * right[label] for label in ("A", "B", "tie")) / n**2
    return (observed - chance) / (1 - chance)


def test_agreement_through_the_api(
    project: Any, members: dict[str, Any], annotators: list[Any], api_client_for: Any
) -> None:
    version = make_version(project, criteria=criteria_for("helpful"), published=False)
    criterion = version.criteria.get()
    dataset = make_simple_dataset(project, n=10, domains=("code", "safety"))
    one, two = annotators[:2]
    queue = make_queue(
        project, dataset=dataset, annotators=[one, two], overlap=2, rubric_version=version
    )
    _label_through_api(api_client_for(one), queue, FIRST, {str(criterion.pk): "A"})
    _label_through_api(api_client_for(two), queue, SECOND, {str(criterion.pk): "A"})

    for role in ("author", "annotator", "viewer"):
        assert (
            api_client_for(members[role]).get(queues_url(queue.pk, "agreement")).status_code == 403
        )
    assert api_client_for(one).get(queues_url(queue.pk, "agreement")).status_code == 403
    response = api_client_for(members["admin"]).get(queues_url(queue.pk, "agreement"))
    assert response.status_code == 200
    report = response.json()

    assert (report["n_items"], report["n_ratings"], report["n_annotators"]) == (10, 20, 2)
    (pair,) = report["cohen_kappa"]
    assert pair["annotators"] == sorted([one.username, two.username])
    assert pair["n"] == 10
    assert pair["kappa"] == pytest.approx(_cohen(FIRST, SECOND))
    codes = {"A": 0, "B": 1, "tie": 2}
    expected_alpha = krippendorff.alpha(
        reliability_data=np.array([[codes[x] for x in FIRST], [codes[x] for x in SECOND]]),
        level_of_measurement="nominal",
    )
    assert report["krippendorff_alpha"] == pytest.approx(expected_alpha)
    observed = sum(a == b for a, b in zip(FIRST, SECOND, strict=True)) / 10
    # With two annotators, "the others' consensus" is simply the other annotator's label.
    for row in report["per_annotator"]:
        assert row["agreement_with_consensus"] == pytest.approx(observed)
    assert set(report["by_domain"]) == {"code", "safety"}
    code = [i for i in range(10) if i % 2 == 0]
    assert report["by_domain"]["code"]["cohen_kappa"][0]["kappa"] == pytest.approx(
        _cohen([FIRST[i] for i in code], [SECOND[i] for i in code])
    )
    # Everyone said A on the criterion: perfect raw agreement, kappa undefined (None, not NaN).
    by_criterion = report["by_criterion"][str(criterion.pk)]
    assert by_criterion["title"] == criterion.title
    assert by_criterion["percent_agreement"] == 1.0
    assert by_criterion["fleiss_kappa"]["kappa"] is None
    disagreements = sum(a != b for a, b in zip(FIRST, SECOND, strict=True))
    assert report["consensus_states"]["disputed"] == disagreements
    assert report["consensus_states"]["consensus"] == 10 - disagreements

    labels = api_client_for(members["admin"]).get(queues_url(queue.pk, "labels")).json()["results"]
    assert len(labels) == 10
    assert {row["state"] for row in labels} == {"consensus", "disputed"}
    assert all(len(row["labels"]) == 2 for row in labels)


def test_adjudication_through_the_api(
    project: Any, members: dict[str, Any], annotators: list[Any], api_client_for: Any
) -> None:
    dataset = make_simple_dataset(project, n=10)
    one, two = annotators[:2]
    queue = make_queue(project, dataset=dataset, annotators=[one, two], overlap=2)
    _label_through_api(api_client_for(one), queue, FIRST, {})
    _label_through_api(api_client_for(two), queue, SECOND, {})
    disputed = dataset.pairs.get(external_id="p2")  # A against B
    body = {"pair": disputed.pk, "label": "B", "reason": "B cites a source."}
    url = queues_url(queue.pk, "adjudicate")
    assert api_client_for(members["author"]).post(url, body, format="json").status_code == 403
    assert api_client_for(one).post(url, body, format="json").status_code == 403
    response = api_client_for(members["admin"]).post(url, body, format="json")
    assert response.status_code == 200, response.content
    assert response.json() == {
        "pair": disputed.pk,
        "state": "adjudicated",
        "consensus": None,
        "final_label": "B",
        "source": "adjudicated",
    }
    cleared = api_client_for(members["admin"]).post(
        url, {"pair": disputed.pk, "label": None}, format="json"
    )
    assert cleared.json()["state"] == "disputed"
    foreign = make_simple_dataset(project, n=1).pairs.get()
    missing = api_client_for(members["admin"]).post(
        url, {"pair": foreign.pk, "label": "A"}, format="json"
    )
    assert missing.status_code == 404


def test_agreement_of_imported_labels(
    project: Any, members: dict[str, Any], api_client_for: Any, make_user: Any
) -> None:
    dataset = make_simple_dataset(project, n=10)
    sources = [make_user(f"pandalm-annotator{i}") for i in (1, 2)]
    for pair in dataset.pairs.all():
        index = int(pair.external_id[1:])
        for user, labels in zip(sources, (FIRST, SECOND), strict=True):
            Annotation.objects.create(
                pair=pair, annotator=user, choice=labels[index], imported=True
            )
    url = f"/api/datasets/{dataset.pk}/agreement/"
    assert api_client_for(members["annotator"]).get(url).status_code == 403
    assert api_client_for(members["outsider"]).get(url).status_code == 404
    report = api_client_for(members["viewer"]).get(url).json()
    assert report["n_annotators"] == 2
    assert report["cohen_kappa"][0]["kappa"] == pytest.approx(_cohen(FIRST, SECOND))
    assert api_client_for(members["viewer"]).get(url, {"min_agreement": "2"}).status_code == 400


def test_agreement_of_the_pandalm_test_set(
    project: Any, members: dict[str, Any], api_client_for: Any
) -> None:
    path = SHARED_DATA / "pandalm" / "testset-v1.json"
    if not path.exists():
        pytest.skip(f"PandaLM test set not present at ../shared/data/pandalm ({path.name})")
    dataset = datasets_services.dataset_create(
        actor=members["admin"], project=project, name="PandaLM"
    )
    with path.open("rb") as handle:
        datasets_services.pairs_import(
            actor=members["admin"], dataset=dataset, file=handle, format="pandalm"
        )

    report = api_client_for(members["admin"]).get(f"/api/datasets/{dataset.pk}/agreement/").json()

    # The statistics must match the raw file, read here on its own.
    rows = json.loads(path.read_text())
    imported = set(Pair.objects.filter(dataset=dataset).values_list("external_id", flat=True))
    raters = [
        [int(row[f"annotator{i}"]) for row in rows if str(row["idx"]) in imported]
        for i in (1, 2, 3)
    ]
    expected_alpha = krippendorff.alpha(
        reliability_data=np.array(raters, dtype=float), level_of_measurement="nominal"
    )
    assert report["n_annotators"] == 3
    assert report["n_items"] == len(imported)
    assert report["n_ratings"] == 3 * len(imported)
    assert report["fleiss_kappa"]["raters_per_item"] == 3
    assert report["krippendorff_alpha"] == pytest.approx(expected_alpha)
    pair_of = {tuple(p["annotators"]): p for p in report["cohen_kappa"]}
    first = pair_of[("pandalm-annotator1", "pandalm-annotator2")]
    names = {0: "tie", 1: "A", 2: "B"}
    assert first["kappa"] == pytest.approx(
        _cohen([names[x] for x in raters[0]], [names[x] for x in raters[1]])
    )
    print(
        f"PandaLM ({len(imported)} pairs): Krippendorff alpha {report['krippendorff_alpha']:.3f}, "
        f"Fleiss kappa {report['fleiss_kappa']['kappa']:.3f}, raw agreement "
        f"{report['percent_agreement']:.3f}"
    )
