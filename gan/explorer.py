"""The data explorer's figures, read from stored parquet files with pyarrow: only the columns and row
groups a figure needs. Stored files never change (new data gets a new name), so figures are cached by
file name.
"""

import csv
import io
from collections.abc import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from django.core.cache import cache

from gan.services.files import open_file

CACHE_SECONDS = 3600
HISTOGRAM_BINS = 30
MAX_PLOT_POINTS = 1500
CSV_BATCH_ROWS = 5000
NON_SENSOR = ("timestamp", "cycle", "machine_id", "rul")


def _cached(key: str, compute):
    value = cache.get(key)
    if value is None:
        value = compute()
        cache.set(key, value, CACHE_SECONDS)
    return value


def schema(name: str) -> tuple[list[str], int]:
    """(column names, row count) from the file's footer alone."""

    def read():
        with open_file(name) as handle:
            metadata = pq.ParquetFile(handle).metadata
            return metadata.schema.to_arrow_schema().names, metadata.num_rows

    return _cached(f"gan-explorer:schema:{name}", read)


def sensor_names(columns: list[str]) -> list[str]:
    return [column for column in columns if column not in NON_SENSOR]


def table_page(name: str, *, offset: int, limit: int) -> list[dict]:
    """Rows offset … offset+limit as dicts, reading only the row groups that hold them."""
    with open_file(name) as handle:
        parquet = pq.ParquetFile(handle)
        groups, first_row, start = [], None, 0
        for index in range(parquet.num_row_groups):
            rows = parquet.metadata.row_group(index).num_rows
            if start + rows > offset and start < offset + limit:
                groups.append(index)
                first_row = start if first_row is None else first_row
            start += rows
        if not groups:
            return []
        table = parquet.read_row_groups(groups)
    return table.slice(offset - first_row, limit).to_pylist()


def _column(name: str, column: str) -> np.ndarray:
    with open_file(name) as handle:
        return pq.read_table(handle, columns=[column]).column(column).to_numpy()


def statistics(name: str) -> list[dict]:
    """rul and every sensor: count, mean, std, min, quartiles, max."""

    def compute():
        columns, _ = schema(name)
        numeric = ["rul", *sensor_names(columns)]
        with open_file(name) as handle:
            table = pq.read_table(handle, columns=numeric)
        figures = []
        for column in numeric:
            values = table.column(column)
            quartiles = pc.quantile(values, q=[0.25, 0.5, 0.75]).to_pylist()
            figures.append(
                {
                    "name": column,
                    "count": len(values),
                    "mean": pc.mean(values).as_py(),
                    "std": pc.stddev(values, ddof=1).as_py(),
                    "min": pc.min(values).as_py(),
                    "q25": quartiles[0],
                    "median": quartiles[1],
                    "q75": quartiles[2],
                    "max": pc.max(values).as_py(),
                }
            )
        return figures

    return _cached(f"gan-explorer:stats:{name}", compute)


def histograms(sensor: str, sources: dict[str, str]) -> dict:
    """One sensor's distribution in each source ({label: file name}) over shared bins, as % of rows."""

    def compute():
        values = {label: _column(name, sensor) for label, name in sources.items()}
        low = min(float(v.min()) for v in values.values())
        high = max(float(v.max()) for v in values.values())
        edges = np.linspace(low, high if high > low else low + 1.0, HISTOGRAM_BINS + 1)
        series = {}
        for label, column in values.items():
            counts, _ = np.histogram(column, bins=edges)
            series[label] = (100.0 * counts / max(len(column), 1)).round(3).tolist()
        centres = ((edges[:-1] + edges[1:]) / 2).round(4).tolist()
        return {"sensor": sensor, "bins": centres, "series": series}

    key = ":".join(f"{label}={name}" for label, name in sorted(sources.items()))
    return _cached(f"gan-explorer:hist:{sensor}:{key}", compute)


def correlations(name: str) -> dict:
    """Pearson correlations between rul and every sensor (a constant column correlates 0)."""

    def compute():
        columns, _ = schema(name)
        numeric = ["rul", *sensor_names(columns)]
        with open_file(name) as handle:
            table = pq.read_table(handle, columns=numeric)
        matrix = np.vstack([table.column(column).to_numpy() for column in numeric])
        with np.errstate(invalid="ignore", divide="ignore"):
            corr = np.nan_to_num(np.corrcoef(matrix), nan=0.0)
        return {"columns": numeric, "matrix": corr.round(3).tolist()}

    return _cached(f"gan-explorer:corr:{name}", compute)


def sensor_vs_rul(name: str, sensor: str) -> list[list[float]]:
    """[[rul, value], …] of at most MAX_PLOT_POINTS evenly strided rows."""

    def compute():
        with open_file(name) as handle:
            table = pq.read_table(handle, columns=["rul", sensor])
        stride = max(1, -(-table.num_rows // MAX_PLOT_POINTS))
        table = table.take(pa.array(range(0, table.num_rows, stride)))
        rul, values = table.column("rul").to_numpy(), table.column(sensor).to_numpy()
        return np.column_stack([rul, values]).round(4).tolist()

    return _cached(f"gan-explorer:scatter:{sensor}:{name}", compute)


def csv_rows(name: str) -> Iterator[str]:
    """The file as CSV text, a batch of rows at a time (for a streamed download)."""
    with open_file(name) as handle:
        parquet = pq.ParquetFile(handle)
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(parquet.schema_arrow.names)
        for batch in parquet.iter_batches(batch_size=CSV_BATCH_ROWS):
            columns = [column.to_pylist() for column in batch.columns]
            writer.writerows(zip(*columns, strict=True))
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
        if buffer.tell():
            yield buffer.getvalue()
