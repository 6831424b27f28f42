"""`distill submit`'s view of its arguments: URLs, local files, and what is neither."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
from distill_cli.render import input_label
from distill_cli.uploads import local_files


def test_local_files_are_told_from_urls(tmp_path: Path) -> None:
    (tmp_path / "scan.pdf").write_bytes(b"%PDF-1.7")
    args = ["https://example.com/a", str(tmp_path / "scan.pdf"), "ftp://example.com/x"]
    assert local_files(args) == [str(tmp_path / "scan.pdf")]  # ftp:// goes to the gateway, which says why not
    assert local_files(["https://example.com/a"]) == []


def test_an_argument_that_is_neither_is_a_usage_error_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for arg, says in (
        ("recipe.jgp", "'recipe.jgp' is neither a URL (http:// or https://) nor a file that exists"),
        (str(tmp_path), "is a directory: give the files in it"),
    ):
        with pytest.raises(typer.Exit) as e:
            local_files(["https://example.com/a", arg])
        assert e.value.exit_code == 2 and says in " ".join(capsys.readouterr().err.split())


def test_an_uploaded_file_is_shown_by_its_name() -> None:
    assert input_label("upload://0f3c9a/Grandma's recipe.jpg") == "Grandma's recipe.jpg"
    assert input_label("https://example.com/a") == "https://example.com/a"
