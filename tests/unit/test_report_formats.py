"""Report formats as the API, the client and the command line name them (pure)."""

from __future__ import annotations

from pathlib import Path

import pytest
from distill.v1 import report_pb2
from distill_cli.report import target_path
from distill_client import names
from distill_core import report_formats


def test_stored_names_and_enums_agree_and_unspecified_is_pdf() -> None:
    assert report_formats.format_name(report_pb2.REPORT_FORMAT_UNSPECIFIED) == "pdf"
    for name, value in report_formats.FORMATS.items():
        assert report_formats.format_name(value) == name
        assert name in report_formats.CONTENT_TYPES and name in report_formats.EXTENSIONS
    with pytest.raises(ValueError) as e:
        report_formats.format_name(7)
    assert str(e.value) == (
        "format: unknown value 7 (one of REPORT_FORMAT_PDF, REPORT_FORMAT_MARKDOWN, REPORT_FORMAT_JSON)"
    )


def test_a_reports_file_name_comes_from_its_task() -> None:
    assert report_formats.filename("0b6c1f2e-aaaa-bbbb-cccc-111122223333", "markdown") == "distill-report-0b6c1f2e.md"


def test_the_client_takes_friendly_format_names() -> None:
    assert names.report_format("md") == names.report_format("Markdown") == report_pb2.REPORT_FORMAT_MARKDOWN
    assert names.report_format(None) == report_pb2.REPORT_FORMAT_PDF
    assert names.report_format(report_pb2.REPORT_FORMAT_JSON) == report_pb2.REPORT_FORMAT_JSON
    with pytest.raises(ValueError, match="unknown report format 'docx'; expected one of: pdf, md, markdown, json"):
        names.report_format("docx")
    assert names.label(report_pb2.ReportStatus, report_pb2.REPORT_STATUS_SUCCEEDED) == "succeeded"


def test_the_command_line_writes_where_it_is_told(tmp_path: Path) -> None:
    assert target_path(None, "distill-report-1.pdf") == Path("distill-report-1.pdf")
    assert target_path(Path("-"), "x.pdf") is None
    assert target_path(tmp_path, "x.pdf") == tmp_path / "x.pdf"
    assert target_path(tmp_path / "mine.pdf", "x.pdf") == tmp_path / "mine.pdf"
