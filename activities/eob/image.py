"""A page of a PDF as a PNG, for the work item a person reviews when a reading cannot be trusted."""

from __future__ import annotations

import io
import shutil
import subprocess
import tempfile
from pathlib import Path

from activities.eob.errors import CorruptPdf


def page_png(path: Path, page: int, resolution: int = 110) -> bytes:
    """Page ``page`` (1-based) as PNG bytes: pdfplumber's renderer (pypdfium2), else poppler's pdftoppm."""
    try:
        import pdfplumber

        with pdfplumber.open(path) as pdf:
            if not 1 <= page <= len(pdf.pages):
                raise CorruptPdf(f"the PDF has no page {page}")
            image = pdf.pages[page - 1].to_image(resolution=resolution)
            buffer = io.BytesIO()
            image.save(buffer, format="PNG")
            return buffer.getvalue()
    except CorruptPdf:
        raise
    except Exception:
        return _pdftoppm(path, page, resolution)


def _pdftoppm(path: Path, page: int, resolution: int) -> bytes:
    binary = shutil.which("pdftoppm")
    if binary is None:
        raise CorruptPdf("the page cannot be rendered: neither pypdfium2 nor pdftoppm is available")
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "page"
        done = subprocess.run(
            [
                binary,
                "-png",
                "-r",
                str(resolution),
                "-f",
                str(page),
                "-l",
                str(page),
                "-singlefile",
                str(path),
                str(out),
            ],
            capture_output=True,
            check=False,
            timeout=60,
        )
        if done.returncode != 0:
            raise CorruptPdf(f"the page cannot be rendered (pdftoppm exit {done.returncode})")
        return (Path(folder) / "page.png").read_bytes()
