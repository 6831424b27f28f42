"""Files for the upload and OCR tests, made here: known text rendered into images with Pillow
(TrueType fonts of the machine, several sizes, a slight rotation), image-only PDFs, and
hostile files (corrupt, blank, a PDF of thousands of pages, images far over the pixel limit)."""

from __future__ import annotations

import io
import re
import struct
import zlib
from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageFont

TEXTS = (
    "Whisk the eggs with sugar until pale\nFold in the flour and bake for twenty minutes\n"
    "Serve warm with fresh cream and berries",
    "Dear neighbours the garden gate opens\nat nine on Saturday morning bring gloves\nand a spade if you have one",
    "Invoice number seven for the repair\nof the kitchen window and two doors\npaid in full on the third of May",
)
FONT_DIRS = (Path("/usr/share/fonts"), Path("/usr/local/share/fonts"), Path.home() / ".fonts")
# (font file, pixel size): serif, bold sans, monospace; sizes of a scan or a phone photo of print.
STYLES = (("DejaVuSerif.ttf", 26), ("DejaVuSans-Bold.ttf", 22), ("DejaVuSansMono.ttf", 28))


def words(text: str) -> list[str]:
    return re.findall(r"[a-z]+", text.lower())


def found_share(expected: str, extracted: str) -> float:
    """Share of the expected words that appear as words of the extracted text."""
    got = set(words(extracted))
    want = words(expected)
    return sum(w in got for w in want) / len(want)


def font(name: str, size: int) -> ImageFont.FreeTypeFont:
    for d in FONT_DIRS:
        hits = sorted(d.rglob(name)) if d.exists() else []
        if hits:
            return ImageFont.truetype(str(hits[0]), size)
    pytest.fail(f"TrueType font {name} not found under {[str(d) for d in FONT_DIRS]}: apt-get install fonts-dejavu")


def text_image(text: str, font_name: str, size: int, rotate: float = 1.5) -> Image.Image:
    f = font(font_name, size)
    lines = text.splitlines()
    width = int(max(f.getlength(ln) for ln in lines)) + 2 * size
    height = int(len(lines) * size * 1.6) + 2 * size
    img = Image.new("RGB", (width, height), "white")
    ImageDraw.Draw(img).multiline_text((size, size), text, font=f, fill=(20, 20, 20), spacing=size // 2)
    return img.rotate(rotate, expand=True, fillcolor="white", resample=Image.Resampling.BICUBIC)


def encoded(img: Image.Image, fmt: str) -> bytes:
    out = io.BytesIO()
    img.save(out, fmt)
    return out.getvalue()


def image_pdf(images: list[Image.Image], resolution: float = 96.0) -> bytes:
    """A PDF of scanned pages: one image each, no text layer."""
    out = io.BytesIO()
    images[0].save(out, "PDF", save_all=True, append_images=images[1:], resolution=resolution)
    return out.getvalue()


def blank_png(width: int = 400, height: int = 300) -> bytes:
    return encoded(Image.new("RGB", (width, height), "white"), "PNG")


def corrupt_png() -> bytes:
    """A PNG signature and header, then garbage where the image data should be."""
    good = blank_png(64, 64)
    return good[:40] + bytes(range(256)) * 4


def png_header_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header says width × height (a decompression bomb's promise)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b"")
    )


def many_page_pdf(pages: int) -> bytes:
    """A PDF of `pages` pages without a text layer, each drawing the same small blank image."""
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    base = PdfReader(io.BytesIO(image_pdf([Image.new("L", (200, 100), "white")]))).pages[0]
    for _ in range(pages):
        writer.add_page(base)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def huge_image_pdf(width: int = 30_000, height: int = 30_000) -> bytes:
    """A one-page PDF whose only image claims width × height pixels (its data is a few bytes)."""
    stream = zlib.compress(b"\x00" * 1024)
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /XObject << /Im0 4 0 R >> >> "
        b"/Contents 5 0 R >>",
        b"<< /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceGray /BitsPerComponent 8 "
        b"/Filter /FlateDecode /Length %d >>\nstream\n%s\nendstream" % (width, height, len(stream), stream),
        b"<< /Length 30 >>\nstream\nq 612 0 0 792 0 0 cm /Im0 Do Q\nendstream",
    ]
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for n, body in enumerate(objects, 1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n%s\nendobj\n" % (n, body))
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for off in offsets:
        out.write(b"%010d 00000 n \n" % off)
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref))
    return out.getvalue()
