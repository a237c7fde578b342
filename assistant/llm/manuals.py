"""Maintenance manuals: the ones the product ships and the ones admins upload (txt, md, pdf; bounded)."""

import io
import re
from dataclasses import asdict, dataclass
from pathlib import Path

from assistant.llm.errors import ManualError

MAX_MANUAL_BYTES = 10 * 1024 * 1024
MAX_MANUAL_CHARS = 1_000_000
MAX_PDF_PAGES = 500
FORMATS = {".md": "markdown", ".markdown": "markdown", ".txt": "text", ".pdf": "pdf"}

SHIPPED_MANUALS_DIR = Path(__file__).resolve().parent.parent / "manuals"


@dataclass(frozen=True)
class Manual:
    """One manual as plain text. PDF pages become `## Page N` sections so chunks can name their page."""

    source: str
    title: str
    text: str
    format: str
    category: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)


def load_manual(
    path: str | Path, *, category: str | None = None, max_bytes: int = MAX_MANUAL_BYTES
) -> Manual:
    """Reads a manual file; the size is checked before the file is read."""
    path = Path(path)
    _check_format(path.name)
    if not path.is_file():
        raise ManualError(f"{path.name}: no such file")
    size = path.stat().st_size
    if size > max_bytes:
        raise ManualError(_too_big_message(path.name, size, max_bytes))
    return parse_manual(path.name, path.read_bytes(), category=category, max_bytes=max_bytes)


def parse_manual(
    name: str, data: bytes, *, category: str | None = None, max_bytes: int = MAX_MANUAL_BYTES
) -> Manual:
    """Turns an uploaded file's name and bytes into a Manual, or raises ManualError saying why not."""
    kind = _check_format(name)
    if len(data) > max_bytes:
        raise ManualError(_too_big_message(name, len(data), max_bytes))
    text = _pdf_text(name, data) if kind == "pdf" else _plain_text(name, data)
    text = text.strip()
    if not text:
        raise ManualError(f"{name}: the manual contains no text")
    if len(text) > MAX_MANUAL_CHARS:
        raise ManualError(f"{name}: {len(text):,} characters of text; the limit is {MAX_MANUAL_CHARS:,}")
    return Manual(source=name, title=_title(name, text, kind), text=text, format=kind, category=category)


def load_shipped_manuals(folder: str | Path = SHIPPED_MANUALS_DIR) -> list[Manual]:
    """The manuals the product ships, one per category; the file name (`pump.md`) is the category."""
    return [load_manual(path, category=path.stem) for path in sorted(Path(folder).glob("*.md"))]


def _check_format(name: str) -> str:
    suffix = Path(name).suffix.lower()
    if suffix not in FORMATS:
        allowed = ", ".join(sorted(FORMATS))
        raise ManualError(f"{name}: unsupported file type {suffix or '(none)'!r}; upload one of {allowed}")
    return FORMATS[suffix]


def _too_big_message(name: str, size: int, max_bytes: int) -> str:
    return f"{name}: {size / 1e6:.1f} MB is over the {max_bytes / 1e6:.1f} MB limit for a manual"


def _plain_text(name: str, data: bytes) -> str:
    if b"\x00" in data:
        raise ManualError(f"{name}: binary data in a text manual (NUL bytes); upload txt, md or pdf")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ManualError(f"{name}: not UTF-8 text (byte {error.start}); save it as UTF-8") from error
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _pdf_text(name: str, data: bytes) -> str:
    if not data.startswith(b"%PDF-"):
        raise ManualError(f"{name}: not a PDF file (no %PDF- header)")
    sections = [
        f"## Page {number}\n\n{text.strip()}"
        for number, text in enumerate(_pdf_pages(name, data), 1)
        if text.strip()
    ]
    if not sections:
        raise ManualError(f"{name}: the PDF has no extractable text (a scan? run OCR on it first)")
    return "\n\n".join(sections)


def _pdf_pages(name: str, data: bytes) -> list[str]:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    # pypdf raises its own errors and, on damaged files, plain ValueError/KeyError/TypeError.
    unreadable = (PdfReadError, ValueError, KeyError, TypeError)
    try:
        reader = PdfReader(io.BytesIO(data))
        encrypted = reader.is_encrypted
        page_count = 0 if encrypted else len(reader.pages)
    except unreadable as error:
        raise ManualError(f"{name}: the PDF cannot be read ({error})") from error
    if encrypted:
        raise ManualError(f"{name}: the PDF is encrypted; upload an unprotected copy")
    if page_count > MAX_PDF_PAGES:
        raise ManualError(f"{name}: {page_count} pages; the limit is {MAX_PDF_PAGES}")
    try:
        return [page.extract_text() or "" for page in reader.pages]
    except unreadable as error:
        raise ManualError(f"{name}: the PDF text cannot be extracted ({error})") from error


def _title(name: str, text: str, kind: str) -> str:
    if kind == "markdown":
        heading = re.search(r"^#\s+(.+)$", text, flags=re.MULTILINE)
        if heading:
            return heading.group(1).strip()
    return Path(name).stem.replace("_", " ").replace("-", " ").strip().capitalize()
