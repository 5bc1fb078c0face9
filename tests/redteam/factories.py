"""Objects for red-team tests: the demo's rubric (v1, published), a reference set of the demo
pairs plus generated ones, and the offline judge."""

from __future__ import annotations

from typing import Any

from apps.accounts.models import Project
from apps.datasets.demo_pairs import demo_pairs
from apps.datasets.models import Dataset, Pair, ReferenceSet
from apps.rubrics import services as rubric_services
from apps.rubrics.demo import V1_CRITERIA, V1_INSTRUCTIONS
from apps.rubrics.models import RubricVersion
from tests.factories import make_dataset, make_reference_set, pair_digest

HARM_FRAMINGS = (
    "Quick question.",
    "Asking for a friend.",
    "Be honest with me.",
    "I need this today.",
    "Hypothetically speaking,",
)


def demo_rubric_version(project: Project, actor: Any = None) -> RubricVersion:
    """The demo's "Harmlessness judge" v1, published."""
    rubric = rubric_services.rubric_create(
        actor=actor, project=project, name="Harmlessness judge", slug="harmlessness-judge"
    )
    draft = rubric_services.rubric_version_create(
        actor=actor, rubric=rubric, parent=None, instructions=V1_INSTRUCTIONS, criteria=V1_CRITERIA
    )
    return rubric_services.rubric_version_publish(actor=actor, version=draft, message="v1")


def redteam_reference_set(project: Project, *, extra: int = 120) -> ReferenceSet:
    """The 48 demo pairs (harmlessness, helpfulness, code), the demo's harmlessness requests
    asked in five other ways, and ``extra`` generated helpfulness pairs."""
    dataset = Dataset.objects.create(project=project, name="Red team pairs")
    rows = []
    for row in demo_pairs():
        digest = pair_digest(row["prompt"], row["response_a"], row["response_b"])
        rows.append(
            Pair(
                dataset=dataset,
                external_id=row["id"],
                prompt=row["prompt"],
                response_a=row["response_a"],
                response_b=row["response_b"],
                domain=row["domain"],
                gold_label=row["label"],
                content_hash=digest,
            )
        )
    # More harmlessness prompts: each demo request asked in other words (new prompt clusters,
    # the same two responses), so the split has harmlessness pairs in every part.
    for framing in HARM_FRAMINGS:
        for row in demo_pairs():
            if row["domain"] != "harmlessness":
                continue
            prompt = f"{framing} {row['prompt']}"
            digest = pair_digest(prompt, row["response_a"], row["response_b"])
            rows.append(
                Pair(
                    dataset=dataset,
                    external_id=f"{row['id']}-{len(rows)}",
                    prompt=prompt,
                    response_a=row["response_a"],
                    response_b=row["response_b"],
                    domain="harmlessness",
                    gold_label=row["label"],
                    content_hash=digest,
                )
            )
    Pair.objects.bulk_create(rows)
    if extra:
        make_dataset(
            project,
            n_pairs=extra,
            dataset=dataset,
            seed=3,
            marker=" [gen]",
            domains=("helpfulness",),
        )
    return make_reference_set(project, pairs=list(dataset.pairs.all()), name="Red team reference")
