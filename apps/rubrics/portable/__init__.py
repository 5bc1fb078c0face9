"""Rubric files: export and import of one version (JSON, YAML, Markdown) and RIPD lineages.

A portable rubric is a version's content (``RubricSpec``) plus the metadata a reader needs to
place it: rubric name and description, version and parent numbers, status and message. JSON
and YAML exports read back into the same ``PortableRubric``, byte for byte on re-export.
Markdown is for people and is export only.

``document`` holds what travels, ``export`` writes it, ``reading`` reads and validates it
(every problem at once, as ``{line, field, message}``), and ``lineage`` reads the JSON Lines
lineages of "Rubrics as an Attack Surface" (whole judge prompts linked by ``parent_prompt_id``)
parents first, with our placeholder names.
"""

from apps.rubrics.portable.document import (
    MAX_ERRORS,
    SCHEMA,
    ExportFormat,
    FileFormat,
    FileIssue,
    ImportFormat,
    PortableRubric,
    RubricFileError,
)
from apps.rubrics.portable.export import (
    export_filename,
    export_json,
    export_markdown,
    export_rubric,
    export_yaml,
    to_document,
)
from apps.rubrics.portable.lineage import LineageEntry, load_ripd_lineage, parse_ripd_lineage
from apps.rubrics.portable.reading import (
    import_json,
    import_rubric,
    import_yaml,
    read_text,
    sniff_format,
    validate_document,
)

__all__ = [
    "MAX_ERRORS",
    "SCHEMA",
    "ExportFormat",
    "FileFormat",
    "FileIssue",
    "ImportFormat",
    "LineageEntry",
    "PortableRubric",
    "RubricFileError",
    "export_filename",
    "export_json",
    "export_markdown",
    "export_rubric",
    "export_yaml",
    "import_json",
    "import_rubric",
    "import_yaml",
    "load_ripd_lineage",
    "parse_ripd_lineage",
    "read_text",
    "sniff_format",
    "to_document",
    "validate_document",
]
