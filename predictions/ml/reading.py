"""Reading uploaded tables: CSV/TXT (any delimiter, whitespace too), Excel, Parquet, JSON — bounded in size.

Every reader returns a `Table`: the frame with string column names (col_0, col_1, … for a headerless file
or an unnamed column) and what was detected about the file, as JSON-able info for the upload page.
"""

from __future__ import annotations

import csv
import io
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import pandas as pd

from .errors import NoUsableColumnError, UnreadableFileError, UploadTooLargeError

DEFAULT_MAX_BYTES = 100 * 1024 * 1024
DELIMITERS = (",", ";", "\t", "|")
SNIFF_LINES = 50
WHITESPACE = "whitespace"
FORMATS_BY_SUFFIX = {
    ".csv": "text",
    ".txt": "text",
    ".tsv": "text",
    ".dat": "text",
    ".xlsx": "excel",
    ".xlsm": "excel",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".json": "json",
    ".jsonl": "json",
    ".ndjson": "json",
}


@dataclass
class Table:
    frame: pd.DataFrame
    info: dict[str, Any] = field(default_factory=dict)


def read_table(
    source: bytes | bytearray | str | os.PathLike | BinaryIO,
    *,
    filename: str | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    sheet: str | int = 0,
) -> Table:
    """Read an upload (bytes, a path or a binary file object) into a Table.

    The format comes from the file name's extension, else from the content. Raises UploadTooLargeError
    above max_bytes, UnreadableFileError when no reader makes sense of it, NoUsableColumnError when it
    holds no rows or columns.
    """
    data, name = _bytes(source, filename, max_bytes)
    file_format = FORMATS_BY_SUFFIX.get(Path(name).suffix.lower()) if name else None
    file_format = file_format or _sniff_format(data)
    readers = {"text": _read_text, "excel": _read_excel, "parquet": _read_parquet, "json": _read_json}
    try:
        frame, info = (
            readers[file_format](data, sheet) if file_format == "excel" else readers[file_format](data)
        )
    except (UnreadableFileError, NoUsableColumnError):
        raise
    except Exception as error:  # each reader library has its own error types
        raise UnreadableFileError(f"could not read the file as {file_format}: {error}") from error
    frame = _clean_names(frame)
    if frame.shape[0] == 0 or frame.shape[1] == 0:
        raise NoUsableColumnError("the file holds no data rows")
    return Table(frame, {"format": file_format, "rows": len(frame), "columns": list(frame.columns), **info})


def _bytes(source, filename: str | None, max_bytes: int) -> tuple[bytes, str | None]:
    too_large = f"the file is larger than the {max_bytes:,} bytes allowed"
    if isinstance(source, bytes | bytearray):
        if len(source) > max_bytes:
            raise UploadTooLargeError(too_large)
        return bytes(source), filename
    if isinstance(source, str | os.PathLike):
        path = Path(source)
        try:
            if path.stat().st_size > max_bytes:
                raise UploadTooLargeError(too_large)
            return path.read_bytes(), filename or path.name
        except OSError as error:
            raise UnreadableFileError(f"cannot open {path.name}: {error.strerror or error}") from error
    data = source.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise UploadTooLargeError(too_large)
    return data, filename or getattr(source, "name", None)


def _sniff_format(data: bytes) -> str:
    if data.startswith(b"PAR1"):
        return "parquet"
    if data.startswith(b"PK\x03\x04"):
        return "excel"
    head = data.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    return "json" if head in (b"[", b"{") else "text"


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _is_number(token: str) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True


def _detect_delimiter(lines: list[str]) -> str:
    """The delimiter splitting every sampled line into the same number (> 1) of fields."""
    best, best_fields = WHITESPACE, 0
    for delimiter in DELIMITERS:
        counts = {len(next(csv.reader([line], delimiter=delimiter))) for line in lines}
        if len(counts) == 1 and (fields := counts.pop()) > 1 and fields > best_fields:
            best, best_fields = delimiter, fields
    return best


def _split(line: str, delimiter: str) -> list[str]:
    if delimiter == WHITESPACE:
        return line.split()
    return [token.strip() for token in next(csv.reader([line], delimiter=delimiter))]


def _has_header(rows: list[list[str]]) -> bool:
    """A first row with no numbers, above rows where some column is numeric, is a header."""
    first, rest = rows[0], rows[1:]
    if any(_is_number(token) for token in first if token):
        return False
    if not rest:
        return True
    for position, token in enumerate(first):
        below = [row[position] for row in rest if position < len(row) and row[position]]
        if below and all(_is_number(value) for value in below) and not _is_number(token):
            return True
    # All-text tables: a header is the usual case for uploads.
    return True


def _read_text(data: bytes) -> tuple[pd.DataFrame, dict[str, Any]]:
    text = _decode(data)
    lines = [line for line in text.splitlines() if line.strip()][:SNIFF_LINES]
    if not lines:
        raise NoUsableColumnError("the file is empty")
    delimiter = _detect_delimiter(lines)
    header = _has_header([_split(line, delimiter) for line in lines])
    options = {"sep": r"\s+"} if delimiter == WHITESPACE else {"sep": delimiter, "skipinitialspace": True}
    frame = pd.read_csv(io.StringIO(text), header=0 if header else None, **options)
    if not header:
        frame.columns = [f"col_{i}" for i in range(frame.shape[1])]
    return frame, {"delimiter": delimiter, "header": header}


def _read_excel(data: bytes, sheet: str | int) -> tuple[pd.DataFrame, dict[str, Any]]:
    raw = pd.read_excel(io.BytesIO(data), sheet_name=sheet, header=None, engine="openpyxl")
    raw = raw.dropna(how="all").dropna(axis=1, how="all")
    if raw.empty:
        raise NoUsableColumnError("the sheet is empty")
    sample = [
        ["" if pd.isna(v) else str(v) for v in row] for row in raw.head(SNIFF_LINES).itertuples(index=False)
    ]
    header = _has_header(sample)
    frame = raw.iloc[1:].reset_index(drop=True) if header else raw.reset_index(drop=True)
    names = ["" if pd.isna(v) else str(v) for v in raw.iloc[0]]
    frame.columns = names if header else [f"col_{i}" for i in range(raw.shape[1])]
    # Cells below a text header come in as objects; give numeric columns their numeric type back.
    return frame.apply(_numeric_if_possible), {"sheet": sheet, "header": header}


def _numeric_if_possible(column: pd.Series) -> pd.Series:
    if column.dtype != object:
        return column
    try:
        return pd.to_numeric(column)
    except (TypeError, ValueError):
        return column


def _read_parquet(data: bytes) -> tuple[pd.DataFrame, dict[str, Any]]:
    return pd.read_parquet(io.BytesIO(data)), {"header": True}


def _read_json(data: bytes) -> tuple[pd.DataFrame, dict[str, Any]]:
    text = _decode(data)
    try:
        payload = json.loads(text)
    except json.JSONDecodeError:
        # JSON Lines: one record per line.
        payload = [json.loads(line) for line in text.splitlines() if line.strip()]
    if isinstance(payload, dict):
        if {"columns", "data"} <= payload.keys():
            return pd.DataFrame(payload["data"], columns=payload["columns"]), {"header": True}
        lists = [value for value in payload.values() if isinstance(value, list)]
        # {"readings": [...]} holds the records under one key; {"a": [...], "b": [...]} is by column.
        if len(payload) == 1 and lists and lists[0] and isinstance(lists[0][0], dict):
            payload = lists[0]
    if isinstance(payload, list) and payload and not isinstance(payload[0], dict | list):
        raise UnreadableFileError("JSON: expected records (objects) or rows, found a list of plain values")
    frame = pd.DataFrame(payload)
    return frame, {"header": not (isinstance(payload, list) and payload and isinstance(payload[0], list))}


def _clean_names(frame: pd.DataFrame) -> pd.DataFrame:
    """String names without surrounding blanks; unnamed columns become col_<position>; duplicates numbered."""
    names, seen = [], set()
    for position, column in enumerate(frame.columns):
        name = str(column).strip()
        if not name or name.startswith("Unnamed:") or isinstance(column, int):
            name = f"col_{position}"
        base, suffix = name, 2
        while name in seen:
            name, suffix = f"{base}_{suffix}", suffix + 1
        seen.add(name)
        names.append(name)
    frame = frame.copy()
    frame.columns = names
    return frame
