"""PDF pages as PNG pictures (pypdfium2: PDFium in a wheel), to look at what is printed and to
show it in the README (docs/images)."""

from __future__ import annotations

from pathlib import Path


def pdf_to_png(pdf: bytes, out: Path, page: int = 0, dpi: float = 110) -> Path:
    """Render one page of a PDF to ``out`` (PNG)."""
    try:
        import pypdfium2 as pdfium
    except ImportError:  # a test / documentation dependency only
        raise RuntimeError("rendering PDF pages needs pypdfium2: pip install 'onestop[test]'") from None
    document = pdfium.PdfDocument(pdf)
    try:
        image = document[page].render(scale=dpi / 72).to_pil()
        out.parent.mkdir(parents=True, exist_ok=True)
        image.save(out, optimize=True)
    finally:
        document.close()
    return out


def page_count(pdf: bytes) -> int:
    import pypdfium2 as pdfium

    document = pdfium.PdfDocument(pdf)
    try:
        return len(document)
    finally:
        document.close()
