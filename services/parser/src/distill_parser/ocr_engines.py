"""The OCR engines: RapidOCR (the default, models in the wheel) and Tesseract (when installed).

`make_engine` checks the settings at start-up: a missing `tesseract` program, or a language
an engine cannot read, stops the parser with a message naming the setting and the fix.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from distill_core.errors import PermanentError, TimeoutFailure

if TYPE_CHECKING:
    from PIL import Image

# ISO 639-1 codes for the languages people ask for most, as Tesseract names them.
TESSERACT_CODES = {
    "en": "eng", "de": "deu", "fr": "fra", "es": "spa", "it": "ita", "pt": "por", "nl": "nld", "sv": "swe",
    "da": "dan", "no": "nor", "fi": "fin", "pl": "pol", "cs": "ces", "ru": "rus", "uk": "ukr", "tr": "tur",
    "el": "ell", "zh": "chi_sim", "ja": "jpn", "ko": "kor", "ar": "ara", "he": "heb", "hi": "hin",
}  # fmt: skip
# What RapidOCR's bundled PP-OCR model reads: Chinese and Latin letters without accents.
RAPIDOCR_LANGUAGES = {"en", "zh"}
TARGET_LINE_PX = 60.0  # line height RapidOCR's recogniser reads best (small print loses its spaces)
MAX_UPSCALE = 4.0
PROBE_SIDE = 2000  # text is found on the image reduced to this (as RapidOCR does), read at full size


def tesseract_languages(languages: Sequence[str]) -> str:
    """Tesseract's -l argument for ISO 639-1 codes (Tesseract's own names pass through): en,de -> eng+deu."""
    return "+".join(TESSERACT_CODES.get(code.lower(), code) for code in languages)


def line_scale(line_heights: Sequence[float]) -> float:
    """How much to enlarge the text lines before reading them, so that a typical one is about
    TARGET_LINE_PX high (at most MAX_UPSCALE): RapidOCR's recogniser drops the spaces
    between small words. 1.0: read them as they are."""
    if not line_heights:
        return 1.0
    typical = sorted(line_heights)[len(line_heights) // 2]
    s = min(MAX_UPSCALE, TARGET_LINE_PX / max(typical, 1.0))
    return s if s > 1.25 else 1.0


def line_image(image: Image.Image, corners: Any, scale: float) -> Any:
    """One text line, cut out of `image` along its four corners (any slant), enlarged by
    `scale` and made upright, as an RGB array for the recogniser. Only the line's own
    region is enlarged, so a big photo costs no more than its text."""
    import cv2
    import numpy as np
    from PIL import Image

    pts = np.asarray(corners, dtype=np.float32)
    x0, y0 = (max(0, int(v) - 2) for v in pts.min(axis=0))
    x1, y1 = (int(v) + 3 for v in pts.max(axis=0))
    x1, y1 = min(x1, image.width), min(y1, image.height)
    region = image.crop((x0, y0, x1, y1))
    if scale != 1.0:
        size = (max(1, round(region.width * scale)), max(1, round(region.height * scale)))
        region = region.resize(size, Image.Resampling.LANCZOS)
    pts = (pts - np.float32([x0, y0])) * scale
    w = int(max(np.linalg.norm(pts[0] - pts[1]), np.linalg.norm(pts[2] - pts[3])))
    h = int(max(np.linalg.norm(pts[0] - pts[3]), np.linalg.norm(pts[1] - pts[2])))
    target = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    m = cv2.getPerspectiveTransform(pts, target)
    line = cv2.warpPerspective(
        np.asarray(region), m, (max(w, 1), max(h, 1)), borderMode=cv2.BORDER_REPLICATE, flags=cv2.INTER_CUBIC
    )
    return np.rot90(line) if line.shape[0] >= 1.5 * line.shape[1] else line


def reading_order(lines: Sequence[tuple[Sequence[Sequence[float]], str]]) -> str:
    """Boxes of recognised text (four corners, then the text) as text: rows top to bottom, each
    left to right. A box joins a row when its vertical centre lies within the row's first box,
    so slightly rotated lines and word-by-word boxes come out in order."""
    boxes = []
    for corners, text in lines:
        if not text.strip():
            continue
        ys = [p[1] for p in corners]
        xs = [p[0] for p in corners]
        boxes.append((min(ys), max(ys), min(xs), text.strip()))
    boxes.sort(key=lambda b: (b[0] + b[1]) / 2)
    rows: list[list[tuple[float, float, float, str]]] = []
    for b in boxes:
        centre = (b[0] + b[1]) / 2
        if rows and rows[-1][0][0] <= centre <= rows[-1][0][1]:
            rows[-1].append(b)
        else:
            rows.append([b])
    return "\n".join(" ".join(b[3] for b in sorted(row, key=lambda b: b[2])) for row in rows)


class RapidOcrEngine:
    """RapidOCR (PP-OCR models on ONNX Runtime); one instance per thread, made on first use."""

    name = "rapidocr"

    def __init__(self, languages: Sequence[str], threads: int = 0) -> None:
        unknown = [lang for lang in languages if lang.lower() not in RAPIDOCR_LANGUAGES]
        if unknown:
            raise ValueError(
                f"DISTILL_PARSER_OCR_LANGUAGES: the rapidocr engine reads {', '.join(sorted(RAPIDOCR_LANGUAGES))}, "
                f"not {', '.join(unknown)}; install Tesseract with those languages (Debian: tesseract-ocr-<code>) "
                "and set DISTILL_PARSER_OCR_ENGINE=tesseract"
            )
        self.threads = threads
        self._local = threading.local()
        # The models (about 100 MB once loaded) are loaded by the first file that needs OCR, not
        # at start-up: a parser that reads web pages never holds them. A missing install still
        # shows at start-up.
        missing = [m for m in ("rapidocr_onnxruntime", "onnxruntime", "cv2") if importlib.util.find_spec(m) is None]
        if missing:
            raise ValueError(
                f"DISTILL_PARSER_OCR_ENGINE=rapidocr but {', '.join(missing)} is not installed "
                "(the rapidocr-onnxruntime and opencv-python-headless packages), or set DISTILL_PARSER_OCR_ENGINE=off"
            )

    def _engine(self) -> Any:
        engine = getattr(self._local, "engine", None)
        if engine is None:
            from rapidocr_onnxruntime import RapidOCR

            opts: dict[str, Any] = {}
            if self.threads:
                opts |= {"intra_op_num_threads": self.threads, "inter_op_num_threads": 1}
            engine = self._local.engine = RapidOCR(**opts)
        return engine

    def read(self, image: Image.Image, timeout: float) -> str:
        import numpy as np

        engine = self._engine()
        k = min(1.0, PROBE_SIDE / max(image.size))
        probe = image.resize((round(image.width * k), round(image.height * k))) if k < 1.0 else image
        found, _ = engine(np.asarray(probe), use_cls=False, use_rec=False)
        if not found:
            return ""
        boxes = [np.asarray(b, dtype=np.float32) / k for b in found]
        scale = line_scale([float(np.linalg.norm(b[3] - b[0])) for b in boxes])
        lines = [line_image(image, b, scale) for b in boxes]
        lines, _, _ = engine.text_cls(lines)
        read, _ = engine.text_rec(lines)
        kept = [(b.tolist(), r[0]) for b, r in zip(boxes, read, strict=True) if float(r[1]) >= engine.text_score]
        return reading_order(kept)


class TesseractEngine:
    """The `tesseract` program (Debian: tesseract-ocr, plus tesseract-ocr-<lang> per language)."""

    name = "tesseract"

    def __init__(self, languages: Sequence[str], threads: int = 0, program: str = "tesseract") -> None:
        path = shutil.which(program)
        if path is None:
            raise ValueError(
                "DISTILL_PARSER_OCR_ENGINE=tesseract but the tesseract program is not installed "
                "(Debian: apt-get install tesseract-ocr), or use the default engine, rapidocr"
            )
        self.path = path
        self.langs = tesseract_languages(languages)
        have = set(self._run(["--list-langs"], None, 30).splitlines()[1:])
        missing = [code for code in self.langs.split("+") if code not in have]
        if missing:
            raise ValueError(
                f"DISTILL_PARSER_OCR_LANGUAGES: Tesseract has no data for {', '.join(missing)} "
                f"(installed: {', '.join(sorted(have)) or 'none'}); Debian: apt-get install "
                + " ".join(f"tesseract-ocr-{m.replace('_', '-')}" for m in missing)
            )
        self.env = dict(os.environ, OMP_THREAD_LIMIT=str(threads or 1))

    def _run(self, args: list[str], data: bytes | None, timeout: float) -> str:
        try:
            done = subprocess.run(
                [self.path, *args], input=data, capture_output=True, timeout=timeout, env=getattr(self, "env", None)
            )
        except subprocess.TimeoutExpired:
            raise TimeoutFailure(f"tesseract took longer than {timeout:.0f} s", code="OCR_TIMEOUT") from None
        if done.returncode != 0:
            err = done.stderr.decode(errors="replace").strip().splitlines()
            raise PermanentError(f"tesseract could not read the image: {(err or ['?'])[-1][:200]}", code="OCR_FAILED")
        return done.stdout.decode(errors="replace")

    def read(self, image: Image.Image, timeout: float) -> str:
        import io

        png = io.BytesIO()
        image.save(png, "PNG")
        text = self._run(["stdin", "stdout", "-l", self.langs, "--psm", "3"], png.getvalue(), timeout)
        lines = [" ".join(ln.split()) for ln in text.replace("\f", "\n").splitlines()]
        return "\n".join(ln for ln in lines if ln)


def make_engine(name: str, languages: Sequence[str], threads: int = 0) -> RapidOcrEngine | TesseractEngine | None:
    """The engine DISTILL_PARSER_OCR_ENGINE names (None for `off`); ValueError says what is wrong."""
    if name == "off":
        return None
    if not languages:
        raise ValueError("DISTILL_PARSER_OCR_LANGUAGES is empty: name at least one language (e.g. en)")
    if name == "rapidocr":
        return RapidOcrEngine(languages, threads)
    if name == "tesseract":
        return TesseractEngine(languages, threads)
    raise ValueError(f"DISTILL_PARSER_OCR_ENGINE must be rapidocr, tesseract or off, not {name!r}")
