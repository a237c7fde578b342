import io
import json

import pandas as pd
import pytest

from predictions.ml.errors import NoUsableColumnError, UnreadableFileError, UploadTooLargeError
from predictions.ml.reading import read_table

FRAME = pd.DataFrame({"time": [1, 2, 3], "temp C": [40.5, 41.0, 41.7], "state": ["ok", "ok", "worn"]})


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_csv_with_any_delimiter(delimiter):
    data = FRAME.to_csv(sep=delimiter, index=False).encode()
    table = read_table(data, filename="upload.csv")
    assert table.info["delimiter"] == delimiter and table.info["header"] is True
    pd.testing.assert_frame_equal(table.frame, FRAME)


def test_whitespace_separated_headerless_text_gets_numbered_columns():
    data = b"1 1 0.5 641.82  \n1 2 0.7 642.15  \n2 1 0.4 642.35  \n"
    table = read_table(data, filename="train.txt")
    assert table.info == {
        "format": "text",
        "rows": 3,
        "columns": ["col_0", "col_1", "col_2", "col_3"],
        "delimiter": "whitespace",
        "header": False,
    }
    assert table.frame["col_3"].tolist() == [641.82, 642.15, 642.35]


def test_byte_order_mark_and_unnamed_columns():
    data = "\ufeffUDI,,Torque [Nm]\n1,a,42.8\n2,b,46.3\n".encode()
    table = read_table(data)
    assert list(table.frame.columns) == ["UDI", "col_1", "Torque [Nm]"]


def test_a_headerless_table_with_a_text_first_column():
    table = read_table(b"2024-01-01 10:00,0.06,0.07\n2024-01-01 10:10,0.06,0.08\n", filename="x.csv")
    assert table.info["header"] is False and table.frame.shape == (2, 3)


def test_excel_with_and_without_header():
    buffer = io.BytesIO()
    FRAME.to_excel(buffer, index=False)
    table = read_table(buffer.getvalue(), filename="upload.xlsx")
    assert table.info["format"] == "excel" and table.info["header"] is True
    pd.testing.assert_frame_equal(table.frame, FRAME, check_dtype=False)
    headerless = io.BytesIO()
    FRAME[["time", "temp C"]].to_excel(headerless, index=False, header=False)
    table = read_table(headerless.getvalue())  # no name: recognised from the content
    assert table.info["header"] is False and list(table.frame.columns) == ["col_0", "col_1"]


def test_parquet():
    buffer = io.BytesIO()
    FRAME.to_parquet(buffer)
    table = read_table(io.BytesIO(buffer.getvalue()))
    assert table.info["format"] == "parquet"
    pd.testing.assert_frame_equal(table.frame, FRAME)


@pytest.mark.parametrize(
    "payload",
    [
        json.dumps(FRAME.to_dict(orient="records")),
        json.dumps(FRAME.to_dict(orient="list")),
        json.dumps(FRAME.to_dict(orient="split") | {"index": None}),
        json.dumps({"readings": FRAME.to_dict(orient="records")}),
        "\n".join(json.dumps(record) for record in FRAME.to_dict(orient="records")),
    ],
    ids=["records", "columns", "split", "wrapped", "json-lines"],
)
def test_json_shapes(payload):
    table = read_table(payload.encode(), filename="upload.json")
    pd.testing.assert_frame_equal(table.frame, FRAME)


def test_size_is_bounded_for_bytes_paths_and_streams(tmp_path):
    data = FRAME.to_csv(index=False).encode()
    path = tmp_path / "big.csv"
    path.write_bytes(data)
    for source in (data, path, str(path), io.BytesIO(data)):
        with pytest.raises(UploadTooLargeError, match="larger than"):
            read_table(source, max_bytes=len(data) - 1)
    assert len(read_table(path, max_bytes=len(data)).frame) == 3


def test_unreadable_and_empty_files_are_clear_errors(tmp_path):
    with pytest.raises(UnreadableFileError, match="parquet"):
        read_table(b"this is no parquet file", filename="data.parquet")
    with pytest.raises(UnreadableFileError, match="cannot open"):
        read_table(tmp_path / "missing.csv")
    with pytest.raises(NoUsableColumnError):
        read_table(b"   \n\n", filename="empty.csv")
    with pytest.raises(NoUsableColumnError):
        read_table(b"a,b\n", filename="header_only.csv")
    with pytest.raises(UnreadableFileError, match="plain values"):
        read_table(b"[1, 2, 3]", filename="values.json")
    assert UploadTooLargeError("x").to_dict() == {"code": "too_large", "message": "x", "column": None}


def test_public_files(datasets):
    cmapss = read_table(datasets / "cmapss" / "test_FD001.txt")
    assert cmapss.info["delimiter"] == "whitespace" and cmapss.info["header"] is False
    assert cmapss.frame.shape == (13096, 26)
    ai4i = read_table(datasets / "ai4i2020" / "ai4i2020.csv")
    assert ai4i.frame.columns[0] == "UDI" and ai4i.frame.shape == (10000, 14)
    ims = read_table(datasets / "ims_bearing" / "Averaged_BearingTest_Dataset.csv")
    assert list(ims.frame.columns) == ["col_0", "Bearing 1", "Bearing 2", "Bearing 3", "Bearing4"]
