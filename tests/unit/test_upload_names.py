"""What UploadFiles makes of a file's name and declared type (distill_gateway.uploads, pure)."""

from __future__ import annotations

import pytest
from distill_core import subjects
from distill_core.errors import InvalidInput
from distill_gateway.uploads import clean_file_name, content_type_of

ALLOWED = ["image/png", "image/jpeg", "application/pdf", "text/markdown", "text/plain"]


@pytest.mark.parametrize(
    ("raw", "name"),
    [
        ("recipe.jpg", "recipe.jpg"),
        ("/home/ann/scans/letter.pdf", "letter.pdf"),
        ("C:\\Users\\ann\\Desktop\\note.txt", "note.txt"),
        ("../../etc/passwd", "passwd"),
        ("bell\x07and\nnewline.png", "bellandnewline.png"),
        ("  spaced out.md  ", "spaced out.md"),
        ("..", ""),
        ("dir/", ""),
        ("e\u0301te\u0301.txt", "\u00e9t\u00e9.txt"),  # one form of é, whatever the sender's system
    ],
)
def test_a_file_name_is_its_last_part_without_control_characters(raw: str, name: str) -> None:
    assert clean_file_name(raw) == name


def test_a_long_name_keeps_its_extension() -> None:
    name = clean_file_name("x" * 400 + ".pdf")
    assert len(name) == 255 and name.endswith(".pdf")


def test_the_content_type_is_the_declared_one_or_the_names() -> None:
    assert content_type_of("a.bin", "image/png; charset=binary", ALLOWED) == "image/png"
    assert content_type_of("Scan.JPEG", "", ALLOWED) == "image/jpeg"
    assert content_type_of("notes.md", "application/octet-stream", ALLOWED) == "text/markdown"
    assert content_type_of("photo", "image/jpg", ALLOWED) == "image/jpeg"  # what some senders call it
    with pytest.raises(InvalidInput, match="content type 'application/zip'; accepted: image/png"):
        content_type_of("a.zip", "", ALLOWED)
    with pytest.raises(InvalidInput, match=r"no content type \(and its name says none\).*DISTILL_UPLOAD_CONTENT_TYPES"):
        content_type_of("README", "", ALLOWED)


def test_an_uploaded_files_input_names_the_object_and_the_file() -> None:
    value = subjects.upload_input("0f3c", "my scan/2.pdf")
    assert value == "upload://0f3c/my scan/2.pdf"
    assert subjects.upload_parts(value) == ("0f3c", "my scan/2.pdf")
    assert subjects.upload_parts("https://example.com/x") is None and subjects.upload_parts("upload://") is None
