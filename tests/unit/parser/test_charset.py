"""Choosing a page's encoding: BOM, header, <meta>, XML declaration, UTF-8, detection."""

from __future__ import annotations

import codecs

import pytest
from distill_parser.charset import choose, decode, label

RUSSIAN = "Зимние штормы и маленькие гавани. Рыбаки северного побережья перестроили волноломы. " * 6
GERMAN = "Über die Brücke gingen fünf Männer, während die Möwen schrien und der Fährmann wartete. " * 6


@pytest.mark.parametrize(
    ("name", "codec"),
    [
        ("UTF-8", "utf-8"),
        ("utf8", "utf-8"),
        ("ISO-8859-1", "cp1252"),  # WHATWG: Latin-1 means windows-1252
        ("latin1", "cp1252"),
        ("us-ascii", "cp1252"),
        ("windows-1251", "cp1251"),
        ("Shift_JIS", "shift_jis"),
        ("'utf-8'", "utf-8"),
        ("no-such-charset", None),
        ("", None),
        (None, None),
    ],
)
def test_labels(name: str | None, codec: str | None) -> None:
    assert label(name) == codec


def test_the_bom_wins() -> None:
    for bom, enc in (
        (codecs.BOM_UTF8, "utf-8"),
        (codecs.BOM_UTF16_LE, "utf-16-le"),
        (codecs.BOM_UTF16_BE, "utf-16-be"),
    ):
        body = bom + "<p>Grüße</p>".encode(enc)
        assert decode(body, "windows-1251") == "<p>Grüße</p>"


def test_header_then_meta_then_xml_declaration() -> None:
    body = f"<html><head><meta charset='windows-1251'></head><body>{RUSSIAN}</body></html>".encode("cp1251")
    assert RUSSIAN in decode(body, None)
    assert choose(body, "koi8-r", html=True)[0] == "koi8-r"  # the header outranks the page
    http_equiv = b'<meta http-equiv="Content-Type" content="text/html; charset=ISO-8859-1">'
    assert choose(http_equiv + "‘quoted’".encode("cp1252"), None, html=True)[0] == "cp1252"
    xml = '<?xml version="1.0" encoding="windows-1251"?><html><body>' + RUSSIAN + "</body></html>"
    assert RUSSIAN in decode(xml.encode("cp1251"), None)
    utf16_claim = b"<meta charset=utf-16><p>" + "Grüße".encode() + b"</p>"
    assert "Grüße" in decode(utf16_claim, None)  # an ASCII-compatible page cannot be UTF-16


def test_windows_1252_smart_quotes_under_a_latin_1_label() -> None:
    body = "“Quoted” – dash".encode("cp1252")
    assert decode(body, "iso-8859-1", html=False) == "“Quoted” – dash"


def test_detection_without_any_declaration() -> None:
    assert choose(b"plain ascii", None, html=True)[0] == "utf-8"
    assert RUSSIAN in decode(f"<html><body><p>{RUSSIAN}</p></body></html>".encode("cp1251"), None)
    assert GERMAN in decode(f"<p>{GERMAN}</p>".encode("cp1252"), None)


def test_a_false_utf8_declaration_falls_back_to_detection() -> None:
    body = f"<html><head><meta charset=utf-8></head><body><p>{RUSSIAN}</p></body></html>".encode("cp1251")
    assert RUSSIAN in decode(body, "utf-8")


def test_a_utf8_page_cut_mid_character_stays_utf8() -> None:
    body = ("<p>" + "Grüße " * 50).encode()[:-1]
    assert choose(body, "utf-8", html=True)[0] == "utf-8"
    assert decode(body, "utf-8").startswith("<p>Grüße Grüße")
