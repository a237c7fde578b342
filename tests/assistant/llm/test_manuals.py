import io
import re

import pytest
from pypdf import PdfWriter
from pypdf.generic import DecodedStreamObject, DictionaryObject, NameObject

from assistant.llm import ManualError, load_manual, load_shipped_manuals, parse_manual
from assistant.llm.manuals import SHIPPED_MANUALS_DIR

SECTIONS = ("Failure modes", "Sensor signatures", "Inspection steps", "Maintenance intervals", "Safety notes")


def test_one_shipped_manual_per_category(categories):
    manuals = load_shipped_manuals()

    assert sorted(manual.category for manual in manuals) == sorted(categories)
    assert all(manual.format == "markdown" and manual.source.endswith(".md") for manual in manuals)


def test_shipped_manuals_cover_the_sections_and_name_every_sensor(categories):
    for manual in load_shipped_manuals():
        headings = [line.lstrip("# ") for line in manual.text.splitlines() if line.startswith("#")]
        words = len(manual.text.split())

        assert all(section in headings for section in SECTIONS), manual.source
        assert 300 <= words <= 1200, (manual.source, words)
        for sensor in categories[manual.category]["sensors"]:
            assert f"`{sensor['name']}`" in manual.text, (manual.source, sensor["name"])


def test_markdown_title_comes_from_the_top_heading():
    manual = load_manual(SHIPPED_MANUALS_DIR / "pump.md", category="pump")

    assert manual.title == "Centrifugal pump maintenance manual"
    assert manual.category == "pump"


def test_text_manual_takes_its_title_from_the_file_name():
    manual = parse_manual("chiller_service-notes.txt", b"Check the condenser.\r\nClean it.")

    assert manual.title == "Chiller service notes"
    assert manual.text == "Check the condenser.\nClean it."
    assert manual.format == "text"


def _pdf_with_text(*pages: str) -> bytes:
    writer = PdfWriter()
    for text in pages:
        page = writer.add_blank_page(width=300, height=300)
        font = DictionaryObject(
            {
                NameObject("/Type"): NameObject("/Font"),
                NameObject("/Subtype"): NameObject("/Type1"),
                NameObject("/BaseFont"): NameObject("/Helvetica"),
            }
        )
        page[NameObject("/Resources")] = DictionaryObject(
            {NameObject("/Font"): DictionaryObject({NameObject("/F1"): writer._add_object(font)})}
        )
        content = DecodedStreamObject()
        content.set_data(f"BT /F1 12 Tf 20 250 Td ({text}) Tj ET".encode())
        page[NameObject("/Contents")] = writer._add_object(content)
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def test_pdf_pages_become_sections():
    manual = parse_manual(
        "chiller.pdf", _pdf_with_text("Check the compressor oil.", "Replace the filter drier.")
    )

    assert manual.format == "pdf"
    assert "## Page 1\n\nCheck the compressor oil." in manual.text
    assert "## Page 2\n\nReplace the filter drier." in manual.text


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("manual.docx", b"PK\x03\x04", "unsupported file type '.docx'"),
        ("manual", b"text", "unsupported file type '(none)'"),
        ("manual.txt", b"\xff\xfe\x00bad", "NUL bytes"),
        ("manual.md", b"caf\xe9", "not UTF-8"),
        ("manual.txt", b"   \n\n ", "contains no text"),
        ("manual.pdf", b"<html>not a pdf</html>", "not a PDF"),
        ("manual.pdf", b"%PDF-1.7\ngarbage", "cannot be read"),
    ],
)
def test_bad_manuals_are_refused_with_the_reason(name, data, message):
    with pytest.raises(ManualError, match=re.escape(message)):
        parse_manual(name, data)


def test_oversized_manual_is_refused_before_reading(tmp_path):
    path = tmp_path / "big.txt"
    path.write_bytes(b"a" * 2048)

    with pytest.raises(ManualError, match="over the"):
        load_manual(path, max_bytes=1024)
    with pytest.raises(ManualError, match="over the"):
        parse_manual("big.md", b"a" * 2048, max_bytes=1024)


def test_manual_error_is_a_value_error_with_a_code():
    with pytest.raises(ValueError) as caught:
        parse_manual("x.exe", b"MZ")

    assert caught.value.code == "invalid_manual"
