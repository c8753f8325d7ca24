"""Writers: snapshot items -> HelpSteer2, HelpSteer2 disagreements, HelpSteer2-Preference, HelpSteer3 and
trainer-ready files (JSONL / gzip JSONL / Parquet), the zip bundle, its dataset card and licence. Pure: no Django.
"""

from annotator.exports.bundle import MANIFEST_NAME, Bundle, render_manifest, write_bundle
from annotator.exports.card import (
    CC_BY_4_0_URL,
    AgreementFigure,
    AttributeCard,
    dataset_card_configs,
    license_notice,
    render_dataset_card,
)
from annotator.exports.formats import EXPORT_FORMATS, FORMAT_SPECS, ExportFormat, format_rows
from annotator.exports.items import IndividualAnnotation, KeptPreference, SnapshotItem, split_justification
from annotator.exports.sinks import DEFAULT_ROW_GROUP_SIZE
from annotator.exports.write import (
    SPLITS,
    ExportTarget,
    FileType,
    WrittenFile,
    export_relative_path,
    write_export,
    write_exports,
)

__all__ = [
    "CC_BY_4_0_URL",
    "DEFAULT_ROW_GROUP_SIZE",
    "EXPORT_FORMATS",
    "FORMAT_SPECS",
    "MANIFEST_NAME",
    "SPLITS",
    "AgreementFigure",
    "AttributeCard",
    "Bundle",
    "ExportFormat",
    "ExportTarget",
    "FileType",
    "IndividualAnnotation",
    "KeptPreference",
    "SnapshotItem",
    "WrittenFile",
    "dataset_card_configs",
    "export_relative_path",
    "format_rows",
    "license_notice",
    "render_dataset_card",
    "render_manifest",
    "split_justification",
    "write_bundle",
    "write_export",
    "write_exports",
]
