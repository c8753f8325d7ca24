"""Parsers: comparison files (HelpSteer2, HelpSteer2 disagreements, HelpSteer2-Preference, HelpSteer3, Prefstack
JSONL) -> typed records. Pure: no Django.

Use :func:`parse_file`; it yields :class:`ComparisonRecord` s and raises :class:`ImportFormatError`.
"""

from annotator.imports.checks import DEFAULT_FIELD_LIMITS, FieldLimits
from annotator.imports.containers import Container
from annotator.imports.errors import ImportFormatError, ImportLimitError
from annotator.imports.parse import (
    DEFAULT_MAX_BYTES,
    DEFAULT_MAX_LINE_BYTES,
    IMPORT_FORMATS,
    ImportFormat,
    find_format_errors,
    parse_file,
)
from annotator.imports.records import (
    DEFAULT_SCALE,
    HELPSTEER2_ATTRIBUTES,
    NOT_RATABLE_STRENGTH,
    PREFERENCE_STRENGTH_RANGE,
    AnnotationRecord,
    ComparisonRecord,
    Role,
    SourceLabels,
    Split,
    Turn,
)
from annotator.imports.turns import parse_helpsteer2_prompt, render_helpsteer2_prompt

__all__ = [
    "DEFAULT_FIELD_LIMITS",
    "DEFAULT_MAX_BYTES",
    "DEFAULT_MAX_LINE_BYTES",
    "DEFAULT_SCALE",
    "HELPSTEER2_ATTRIBUTES",
    "IMPORT_FORMATS",
    "NOT_RATABLE_STRENGTH",
    "PREFERENCE_STRENGTH_RANGE",
    "AnnotationRecord",
    "ComparisonRecord",
    "Container",
    "FieldLimits",
    "ImportFormat",
    "ImportFormatError",
    "ImportLimitError",
    "Role",
    "SourceLabels",
    "Split",
    "Turn",
    "find_format_errors",
    "parse_file",
    "parse_helpsteer2_prompt",
    "render_helpsteer2_prompt",
]
