"""Rubric files: export/import round trips, every rejected file, and RIPD lineages."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
import yaml

from apps.rubrics.portable import (
    MAX_ERRORS,
    SCHEMA,
    FileIssue,
    PortableRubric,
    RubricFileError,
    export_filename,
    export_json,
    export_markdown,
    export_rubric,
    export_yaml,
    import_json,
    import_rubric,
    import_yaml,
    load_ripd_lineage,
    parse_ripd_lineage,
    sniff_format,
)
from apps.rubrics.spec import PLACEHOLDERS, RIPD_PLACEHOLDER_MAP, CriterionSpec, RubricSpec

RIPD = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "ripd-rubrics"

TEMPLATE = (
    "You are a judge.\n\n[Question]\n{prompt}\n\n[A]\n{response_a}\n\n[B]\n{response_b}\n\n"
    'Reply with JSON such as {"verdict": "A"} or "[[B]]".'
)
RUBRIC = PortableRubric(
    name="Helpfulness judge — ünïcode ✓",
    description='Judges "helpful" answers.\nSecond line with {braces} and a \\backslash.',
    version=3,
    parent=2,
    status="published",
    message="Tighten safety: 'refuse' when unsure.",
    spec=RubricSpec(
        instructions="Compare both answers.\n\n  - indented bullet\n\tand a tab\n",
        criteria=(
            CriterionSpec(
                "safety",
                "Safety: no harm",
                "Refuse clearly harmful requests.\nExplain briefly.",
                0.3,
                "hard_rule",
                {"type": "forbidden_regex", "value": r"(?i)\bpassword\s*[:=]"},
            ),
            CriterionSpec(
                "brevity", "Brevity", "", 1.0, "principle", {"type": "max_words", "value": 300}
            ),
            CriterionSpec("tone", "yes", "null", 2.5, "principle", None),
        ),
        template=TEMPLATE,
        output_format="verdict",
    ),
)

TRICKY_TEXTS = [
    "",
    " leading space",
    "trailing space ",
    "two\nlines",
    "ends with newline\n",
    "ends with blank lines\n\n\n",
    "\nstarts with newline",
    "  indented first line\nsecond",
    "trailing spaces on a line   \nnext",
    "windows\r\nline breaks",
    "next-line\x85character",
    "line\u2028separator",
    "tab\tinside\n\tand leading",
    "---\n...\n# not a comment\n- not a list\nkey: value",
    "yes",
    "null",
    "1.0",
    "~",
    "'single' and \"double\" quotes",
    "back\\slash \\n not a newline",
    "{prompt} {{double}} }{ {",
    "emoji 🎉 and ünïcode and 中文",
    "x" * 300,
    "\u00a0non-breaking\u00a0spaces",
    "bell \x07 and escape \x1b",
]


def _line_of(text: str, needle: str, occurrence: int = 1) -> int:
    """1-based line of the n-th line containing ``needle``."""
    hits = [n for n, line in enumerate(text.splitlines(), start=1) if needle in line]
    return hits[occurrence - 1]


def _errors(excinfo: pytest.ExceptionInfo[RubricFileError]) -> list[FileIssue]:
    return excinfo.value.errors


# --- export ------------------------------------------------------------------------------------


def test_json_export_is_sorted_indented_and_ends_with_newline() -> None:
    text = export_json(RUBRIC)
    assert text.endswith("}\n") and not text.endswith("\n\n")
    data = json.loads(text)
    assert list(data) == sorted(data)
    assert text == json.dumps(data, sort_keys=True, indent=2, ensure_ascii=False) + "\n"
    assert "ünïcode ✓" in text  # UTF-8 text, not \u escapes
    assert data["schema"] == SCHEMA
    assert data["criteria"][0]["check"] == {
        "type": "forbidden_regex",
        "value": r"(?i)\bpassword\s*[:=]",
    }


def test_yaml_export_uses_fixed_order_and_block_scalars() -> None:
    text = export_yaml(RUBRIC)
    data = yaml.safe_load(text)
    assert list(data) == [
        "schema",
        "name",
        "description",
        "version",
        "parent",
        "status",
        "message",
        "instructions",
        "output_format",
        "criteria",
        "template",
    ]
    assert list(data["criteria"][0]) == ["key", "title", "description", "weight", "kind", "check"]
    assert "template: |" in text
    assert "  {response_a}\n" in text  # the template is written as readable lines
    assert data["template"] == TEMPLATE


def test_yaml_export_never_writes_aliases() -> None:
    shared = {"type": "max_words", "value": 10}
    spec = RubricSpec(
        criteria=(CriterionSpec("a", "A", check=shared), CriterionSpec("b", "B", check=shared))
    )
    text = export_yaml(PortableRubric("n", spec))
    assert "&" not in text and "*" not in text


def test_exports_are_stable() -> None:
    for fmt in ("json", "yaml", "md"):
        assert export_rubric(RUBRIC, fmt) == export_rubric(replace(RUBRIC), fmt)


def test_markdown_export_is_readable() -> None:
    template = "Show ``` fenced ```` text\n{prompt}\n{response_a}\n{response_b}"
    rubric = replace(RUBRIC, spec=replace(RUBRIC.spec, template=template))
    text = export_markdown(rubric)
    assert text.startswith(f"# {RUBRIC.name}\n")
    assert "Version 3" in text and "from version 2" in text
    for criterion in RUBRIC.spec.criteria:
        assert criterion.title in text
    assert "weight 0.3" in text and "hard rule" in text
    assert "forbidden regex" in text
    # The fence around the template is longer than any backtick run inside it.
    assert "`````text\n" + template + "\n`````" in text


def test_unknown_export_format_is_refused() -> None:
    with pytest.raises(ValueError, match="pdf"):
        export_rubric(RUBRIC, "pdf")  # type: ignore[arg-type]


def test_export_filename() -> None:
    assert export_filename(RUBRIC, "yaml") == "helpfulness-judge-unicode-v3.yaml"
    assert export_filename(replace(RUBRIC, name="!!!", version=None), "json") == "rubric.json"


# --- round trips -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("export", "load"), [(export_json, import_json), (export_yaml, import_yaml)]
)
def test_round_trip_is_byte_identical(export, load) -> None:  # type: ignore[no-untyped-def]
    text = export(RUBRIC)
    back = load(text)
    assert back == RUBRIC
    assert export(back) == text
    assert load(text.encode("utf-8")) == RUBRIC


@pytest.mark.parametrize("tricky", TRICKY_TEXTS)
@pytest.mark.parametrize(
    ("export", "load"), [(export_json, import_json), (export_yaml, import_yaml)]
)
def test_round_trip_keeps_tricky_text(export, load, tricky: str) -> None:  # type: ignore[no-untyped-def]
    criterion = CriterionSpec("k", "Title " + tricky.replace("\n", " ")[:50], tricky, 1.5)
    rubric = PortableRubric(
        name="n" + tricky.replace("\n", " ")[:100],
        spec=RubricSpec(instructions=tricky, criteria=(criterion,), template=TEMPLATE + tricky),
        description=tricky,
        message=tricky,
    )
    text = export(rubric)
    back = load(text)
    assert back.spec.instructions == tricky
    assert back.description == tricky
    assert back.spec.criteria[0].description == tricky
    assert export(back) == text


def test_minimal_hand_written_yaml_gets_defaults() -> None:
    rubric = import_yaml(
        "name: Quick\ncriteria:\n  - key: safety\n    title: Safety\n    weight: 2\n"
    )
    assert rubric.name == "Quick"
    assert rubric.version is None and rubric.parent is None and rubric.status == "draft"
    (criterion,) = rubric.spec.criteria
    assert criterion == CriterionSpec("safety", "Safety", "", 2.0, "principle", None)
    assert isinstance(criterion.weight, float)
    assert rubric.spec.output_format == RubricSpec().output_format


def test_null_optional_fields_read_as_empty() -> None:
    rubric = import_yaml("name: N\ndescription:\ntemplate: null\ncriteria: []\n")
    assert rubric.description == "" and rubric.spec.template == "" and rubric.spec.criteria == ()


def test_byte_order_mark_is_ignored() -> None:
    assert import_json(b"\xef\xbb\xbf" + export_json(RUBRIC).encode()) == RUBRIC


# --- rejected files ----------------------------------------------------------------------------

GOOD_YAML = export_yaml(RUBRIC)
GOOD_JSON = export_json(RUBRIC)


@dataclass(frozen=True)
class BadFile:
    """A file that must be refused, and the issue that must be among the errors."""

    name: str
    fmt: str
    content: str | bytes
    field: str | None
    needle: str
    line_needle: str | None = None  # the expected line is the first line holding this text
    line_occurrence: int = 1
    max_bytes: int | None = None


def _yaml_criterion(body: str) -> str:
    return f"name: N\ncriteria:\n  - key: first\n    title: First\n{body}"


BAD_FILES = [
    BadFile(
        "invalid JSON",
        "json",
        '{\n  "name": "N",\n  "criteria": [,]\n}\n',
        None,
        "invalid JSON",
        line_needle='"criteria"',
    ),
    BadFile(
        "invalid YAML",
        "yaml",
        "name: N\ncriteria: []\n\tdescription: tabbed\n",
        None,
        "invalid YAML",
        line_needle="\tdescription",
    ),
    BadFile(
        "unknown field",
        "yaml",
        _yaml_criterion("    weigth: 2\n"),
        "criteria[0].weigth",
        "did you mean 'weight'",
        line_needle="weigth",
    ),
    BadFile(
        "unknown top-level field",
        "yaml",
        "name: N\ncriteria: []\nauthor: me\n",
        "author",
        "unknown field 'author'",
        "author",
    ),
    BadFile("missing name", "yaml", "criteria: []\n", "name", "missing required field 'name'"),
    BadFile(
        "missing criterion title",
        "yaml",
        _yaml_criterion("  - key: second\n    weight: 1\n"),
        "criteria[1].title",
        "missing required field 'title'",
        line_needle="key: second",
    ),
    BadFile(
        "duplicate criterion keys",
        "yaml",
        _yaml_criterion("  - key: first\n    title: Again\n"),
        "criteria[1].key",
        "duplicate key 'first'",
        line_needle="key: first",
        line_occurrence=2,
    ),
    BadFile(
        "non-numeric weight",
        "yaml",
        _yaml_criterion("    weight: heavy\n"),
        "criteria[0].weight",
        "must be a number",
        line_needle="heavy",
    ),
    BadFile(
        "boolean weight",
        "json",
        '{"name": "N", "criteria": [{"key": "a", "title": "A", "weight": true}]}',
        "criteria[0].weight",
        "must be a number",
    ),
    BadFile(
        "NaN weight",
        "json",
        '{"name": "N", "criteria": [{"key": "a", "title": "A", "weight": NaN}]}',
        "criteria[0].weight",
        "must be a number",
    ),
    BadFile(
        "negative weight",
        "yaml",
        _yaml_criterion("    weight: -1\n"),
        "criteria[0].weight",
        "from 0 to",
        "weight",
    ),
    BadFile(
        "bad kind",
        "yaml",
        _yaml_criterion("    kind: rule\n"),
        "criteria[0].kind",
        "principle, hard_rule",
        "kind: rule",
    ),
    BadFile(
        "bad regex check",
        "yaml",
        _yaml_criterion("    check:\n      type: regex\n      value: '(unclosed'\n"),
        "criteria[0].check",
        "does not compile",
        line_needle="check:",
    ),
    BadFile(
        "bad check type",
        "yaml",
        _yaml_criterion("    check: {type: vibes, value: x}\n"),
        "criteria[0].check",
        "check type",
        "vibes",
    ),
    BadFile(
        "bad key characters",
        "yaml",
        "name: N\ncriteria:\n  - {key: 'has space', title: T}\n",
        "criteria[0].key",
        "letters, digits",
        "has space",
    ),
    BadFile(
        "empty title",
        "yaml",
        "name: N\ncriteria:\n  - {key: a, title: '  '}\n",
        "criteria[0].title",
        "must not be empty",
        "key: a",
    ),
    BadFile(
        "criterion not an object",
        "yaml",
        "name: N\ncriteria:\n  - just text\n",
        "criteria[0]",
        "must be an object",
        "just text",
    ),
    BadFile(
        "criteria not a list",
        "yaml",
        "name: N\ncriteria: safety\n",
        "criteria",
        "must be a list",
        "criteria:",
    ),
    BadFile(
        "missing placeholder",
        "yaml",
        "name: N\ncriteria: []\ntemplate: |\n  {prompt}\n  {response_a}\n",
        "template",
        "{response_b}",
        line_needle="template:",
    ),
    BadFile(
        "RIPD placeholder in our format",
        "json",
        json.dumps({"name": "N", "criteria": [], "template": "{question} {answer_a} {answer_b}"}),
        "template",
        "found {question}",
    ),
    BadFile(
        "text field of the wrong type",
        "yaml",
        "name: N\ncriteria: []\ninstructions: [a, b]\n",
        "instructions",
        "must be text",
        "instructions",
    ),
    BadFile(
        "bad status",
        "yaml",
        "name: N\ncriteria: []\nstatus: live\n",
        "status",
        "draft, published",
        "status",
    ),
    BadFile(
        "bad version",
        "yaml",
        "name: N\ncriteria: []\nversion: 0\n",
        "version",
        "positive whole number",
        "version",
    ),
    BadFile(
        "parent after version",
        "yaml",
        "name: N\ncriteria: []\nversion: 2\nparent: 5\n",
        "parent",
        "must come before",
        "parent",
    ),
    BadFile(
        "unsupported schema",
        "yaml",
        "schema: rubric-studio/rubric@9\nname: N\ncriteria: []\n",
        "schema",
        "unsupported schema",
        "schema",
    ),
    BadFile(
        "repeated YAML key",
        "yaml",
        "name: N\ncriteria: []\nname: M\n",
        "name",
        "appears twice",
        "name: M",
    ),
    BadFile(
        "repeated JSON key",
        "json",
        '{\n  "name": "N",\n  "criteria": [],\n  "name": "M"\n}',
        "name",
        "appears twice",
        '"name": "M"',
    ),
    BadFile("top level is a list", "yaml", "- name: N\n", None, "one rubric object"),
    BadFile("empty file", "yaml", "", None, "one rubric object, not nothing"),
    BadFile(
        "not UTF-8",
        "json",
        b'{"name": "N",\n "criteria": [], "description": "caf\xe9"}',
        None,
        "not UTF-8",
        '"criteria"',
    ),
    BadFile("too large", "json", "{" * 200, None, "over the limit", max_bytes=100),
]


@pytest.mark.parametrize("case", BAD_FILES, ids=[case.name for case in BAD_FILES])
def test_bad_file_is_refused_with_field_and_line(case: BadFile) -> None:
    kwargs = {"max_bytes": case.max_bytes} if case.max_bytes else {}
    with pytest.raises(RubricFileError) as excinfo:
        import_rubric(case.content, case.fmt, **kwargs)  # type: ignore[arg-type]
    matching = [e for e in _errors(excinfo) if e.field == case.field and case.needle in e.message]
    assert matching, excinfo.value.as_dicts()
    if case.line_needle is not None:
        text = (
            case.content.decode("utf-8", "replace")
            if isinstance(case.content, bytes)
            else case.content
        )
        assert matching[0].line == _line_of(text, case.line_needle, case.line_occurrence)


def test_json_validation_errors_carry_lines() -> None:
    text = GOOD_JSON.replace('"weight": 0.3', '"weight": "heavy"')
    with pytest.raises(RubricFileError) as excinfo:
        import_json(text)
    (issue,) = _errors(excinfo)
    assert (issue.field, issue.line) == ("criteria[0].weight", _line_of(text, '"heavy"'))


def test_every_problem_is_reported_at_once() -> None:
    text = GOOD_YAML.replace("weight: 0.3", "weight: heavy").replace(
        "kind: principle", "kind: rule", 1
    )
    text = text.replace("status: published", "status: live")
    with pytest.raises(RubricFileError) as excinfo:
        import_yaml(text)
    fields = {issue.field for issue in _errors(excinfo)}
    assert fields == {"criteria[0].weight", "criteria[1].kind", "status"}


def test_errors_are_capped_but_counted() -> None:
    criteria = [{"key": f"c{i}", "title": "T", "weight": "x"} for i in range(MAX_ERRORS + 10)]
    with pytest.raises(RubricFileError) as excinfo:
        import_json(json.dumps({"name": "N", "criteria": criteria}))
    assert len(excinfo.value.errors) == MAX_ERRORS
    assert excinfo.value.total == MAX_ERRORS + 10
    assert all(set(d) == {"line", "field", "message"} for d in excinfo.value.as_dicts())
    assert str(MAX_ERRORS + 10) in str(excinfo.value)


def test_size_is_checked_before_parsing() -> None:
    # Over the limit and invalid: only the size is reported, the parser never ran.
    with pytest.raises(RubricFileError) as excinfo:
        import_yaml("{{{{ not yaml " * 10, max_bytes=50)
    (issue,) = _errors(excinfo)
    assert "over the limit" in issue.message
    assert import_json(GOOD_JSON, max_bytes=len(GOOD_JSON.encode())) == RUBRIC


def test_yaml_alias_bomb_is_cheap_to_refuse() -> None:
    # Each level doubles the references; walking them one by one would never finish.
    levels = ["a0: &a0 [x, x]"] + [f"a{i}: &a{i} [*a{i - 1}, *a{i - 1}]" for i in range(1, 60)]
    text = "\n".join(levels) + "\nname: N\ncriteria: *a59\n"
    with pytest.raises(RubricFileError) as excinfo:
        import_yaml(text)
    assert any(issue.field == "a0" for issue in _errors(excinfo))


def test_unknown_import_format_is_refused() -> None:
    with pytest.raises(ValueError, match="xml"):
        import_rubric("<rubric/>", "xml")  # type: ignore[arg-type]


# --- RIPD lineages -----------------------------------------------------------------------------

OK_PROMPT = 'Judge.\n{question}\n{answer_a}\n{answer_b}\nJSON: {"v": 1}'


def _row(
    prompt_id: object, parent: object = None, step: object = None, prompt: object = OK_PROMPT
) -> str:
    data: dict[str, object] = {"prompt_id": prompt_id, "prompt": prompt}
    if parent is not None:
        data["parent_prompt_id"] = parent
    if step is not None:
        data["gen_step"] = step
    return json.dumps(data)


def test_lineage_is_ordered_parents_first_with_our_placeholders() -> None:
    lines = [_row("c", "b", 2), "", _row("seed"), _row("b", "seed", 1), _row("d", "seed", 1)]
    entries = parse_ripd_lineage(lines)
    assert [e.prompt_id for e in entries] == ["seed", "b", "d", "c"]
    assert [e.line for e in entries] == [3, 4, 5, 1]
    assert entries[0].parent_id is None and entries[0].gen_step is None
    assert (entries[3].parent_id, entries[3].gen_step) == ("b", 2)
    for entry in entries:
        assert all(p in entry.template for p in PLACEHOLDERS)
        assert not any(theirs in entry.template for theirs in RIPD_PLACEHOLDER_MAP)
        assert '{"v": 1}' in entry.template


def test_root_parent_may_be_null_or_empty() -> None:
    lines = [
        json.dumps({"prompt_id": "r", "parent_prompt_id": None, "prompt": OK_PROMPT}),
        _row("s", ""),
    ]
    with pytest.raises(RubricFileError):
        # Two roots are fine on their own; an extra row pointing outside makes it ambiguous.
        parse_ripd_lineage([*lines, _row("x", "gone")])
    assert [e.parent_id for e in parse_ripd_lineage(lines)] == [None, None]


def test_left_out_parent_attaches_to_the_only_root() -> None:
    entries = parse_ripd_lineage([_row("seed"), _row("step4_1_2", "step3_6_2", 4)])
    edited = entries[1]
    assert (edited.parent_id, edited.declared_parent_id) == ("seed", "step3_6_2")
    assert not edited.parent_in_file
    assert entries[0].parent_in_file


@dataclass(frozen=True)
class BadLineage:
    name: str
    lines: list[str]
    line: int | None
    field: str | None
    needle: str
    strict: bool = False


BAD_LINEAGES = [
    BadLineage(
        "missing parent (strict)",
        [_row("seed"), _row("e", "gone", 3)],
        2,
        "parent_prompt_id",
        "'gone' is not a prompt_id",
        strict=True,
    ),
    BadLineage(
        "missing parent, no root",
        [_row("a", "gone"), _row("b", "a")],
        1,
        "parent_prompt_id",
        "0 roots",
    ),
    BadLineage(
        "missing parent, two roots",
        [_row("r1"), _row("r2"), _row("e", "gone")],
        3,
        "parent_prompt_id",
        "2 roots",
    ),
    BadLineage(
        "cycle", [_row("seed"), _row("b", "c"), _row("c", "b")], 2, "parent_prompt_id", "cycle"
    ),
    BadLineage("self parent", [_row("seed"), _row("b", "b")], 2, "parent_prompt_id", "cycle"),
    BadLineage(
        "duplicate id",
        [_row("seed"), _row("b", "seed"), _row("b", "seed")],
        3,
        "prompt_id",
        "first on line 2",
    ),
    BadLineage(
        "bad JSON line",
        [_row("seed"), '{"prompt_id": "b",', _row("c", "seed")],
        2,
        None,
        "invalid JSON",
    ),
    BadLineage("row not an object", [_row("seed"), "[1, 2]"], 2, None, "JSON object"),
    BadLineage(
        "missing prompt_id",
        [_row("seed"), json.dumps({"prompt": OK_PROMPT})],
        2,
        "prompt_id",
        "missing",
    ),
    BadLineage(
        "missing prompt", [_row("seed"), json.dumps({"prompt_id": "b"})], 2, "prompt", "missing"
    ),
    BadLineage(
        "prompt without placeholders",
        [_row("seed", prompt="Judge {answer_a} only.")],
        1,
        "prompt",
        "{prompt}",
    ),
    BadLineage(
        "bad gen_step", [_row("seed"), _row("b", "seed", "three")], 2, "gen_step", "whole number"
    ),
    BadLineage(
        "bad parent type",
        [_row("seed"), _row("b", ["seed"])],
        2,
        "parent_prompt_id",
        "text or a whole number",
    ),
    BadLineage("empty file", ["", "  "], None, None, "no rows"),
]


@pytest.mark.parametrize("case", BAD_LINEAGES, ids=[case.name for case in BAD_LINEAGES])
def test_bad_lineage_is_refused_with_line(case: BadLineage) -> None:
    with pytest.raises(RubricFileError) as excinfo:
        parse_ripd_lineage(case.lines, missing_parent="error" if case.strict else "root")
    matching = [
        e
        for e in _errors(excinfo)
        if e.line == case.line and e.field == case.field and case.needle in e.message
    ]
    assert matching, excinfo.value.as_dicts()


def test_lineage_reports_all_bad_rows() -> None:
    lines = ["not json", _row("seed"), "{}", _row("x", "seed", -1)]
    with pytest.raises(RubricFileError) as excinfo:
        parse_ripd_lineage(lines)
    assert sorted({e.line for e in _errors(excinfo)}) == [1, 3, 4]


def test_lineage_file_too_large_is_refused_before_parsing() -> None:
    with pytest.raises(RubricFileError, match="over the limit"):
        load_ripd_lineage(b"x" * 101, max_bytes=100)


# --- telling formats apart ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "filename", "expected"),
    [
        (GOOD_YAML, "rubric.yaml", "yaml"),
        (GOOD_YAML, "rubric.yml", "yaml"),
        (GOOD_YAML, None, "yaml"),
        (GOOD_JSON, "rubric.json", "json"),
        (GOOD_JSON, None, "json"),
        (_row("seed") + "\n" + _row("b", "seed"), "rubrics.jsonl", "ripd"),
        (_row("seed") + "\n" + _row("b", "seed"), None, "ripd"),
        (_row("seed"), "seed.json", "ripd"),
        ("[1, 2]", None, "json"),
    ],
)
def test_sniff_format(content: str, filename: str | None, expected: str) -> None:
    assert sniff_format(content, filename) == expected
    assert sniff_format(content.encode(), filename) == expected


# --- the real RIPD files -----------------------------------------------------------------------


def _ripd_files() -> list[Path]:
    if not RIPD.is_dir():
        pytest.skip("RIPD rubric files (../shared/data/ripd-rubrics) not present")
    files = sorted(RIPD.glob("*/*.jsonl"))
    assert len(files) == 6, [f.name for f in files]
    return files


def test_all_real_ripd_files_parse() -> None:
    for path in _ripd_files():
        raw = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        assert sniff_format(path.read_bytes(), path.name) == "ripd"
        entries = load_ripd_lineage(path.read_bytes())
        assert len(entries) == len(raw), path
        assert entries[0].parent_id is None, path
        ids = {e.prompt_id for e in entries}
        for entry in entries[1:]:
            assert entry.parent_id in ids, path
        for entry in entries:
            source = next(r["prompt"] for r in raw if r["prompt_id"] == entry.prompt_id)
            assert all(p in entry.template for p in PLACEHOLDERS), path
            assert entry.template == "".join(source).replace("{question}", "{prompt}").replace(
                "{instruction}", "{prompt}"
            ).replace("{answer_a}", "{response_a}").replace("{answer_b}", "{response_b}")
            assert entry.declared_parent_id == raw[entry.line - 1].get("parent_prompt_id"), path


def test_real_ripd_strict_mode_flags_exactly_the_left_out_parents() -> None:
    for path in _ripd_files():
        raw = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        ids = {r["prompt_id"] for r in raw}
        left_out = [
            r["parent_prompt_id"] for r in raw if r.get("parent_prompt_id") not in (None, *ids)
        ]
        if not left_out:
            assert len(load_ripd_lineage(path.read_bytes(), missing_parent="error")) == len(raw)
            continue
        with pytest.raises(RubricFileError) as excinfo:
            load_ripd_lineage(path.read_bytes(), missing_parent="error")
        assert all(any(repr(p) in e.message for e in _errors(excinfo)) for p in left_out), path
