"""Physics-style seed data (SPEC §3.1): run-to-failure cycles with pattern-shaped sensor drift."""

from datetime import UTC, datetime

import numpy as np
import pandas as pd

from gan.synth.profile import DegradationProfile

SEED_MIN_ROWS = 1_000
SEED_MAX_ROWS = 100_000
SEED_DEFAULT_ROWS = 10_000
DEFAULT_START = datetime(2024, 1, 1, tzinfo=UTC)

# A cycle shorter than this share of max_rul would be a jitter artefact, not a plausible life.
_MIN_CYCLE_SHARE = 0.1


def degradation_curve(pattern: str, wear: np.ndarray) -> np.ndarray:
    """g(x) of SPEC §3.1: 0 when healthy (x = 0), 1 at failure (x = 1)."""
    if pattern == "exponential":
        return np.expm1(4.0 * wear) / np.expm1(4.0)
    return wear


def generate_seed(
    profile: DegradationProfile,
    rows: int = SEED_DEFAULT_ROWS,
    *,
    random_seed: int = 0,
    start: datetime = DEFAULT_START,
) -> pd.DataFrame:
    """Seed frame with columns timestamp (UTC), cycle (0-based int), rul (hours), then one per sensor.

    The same profile, rows and random_seed always give the same frame.
    """
    if not SEED_MIN_ROWS <= rows <= SEED_MAX_ROWS:
        raise ValueError(f"rows: must be between {SEED_MIN_ROWS} and {SEED_MAX_ROWS}, got {rows}")
    if rows < 2 * profile.cycles:
        raise ValueError(f"rows: {rows} rows cannot hold {profile.cycles} cycles of at least 2 rows")
    rng = np.random.default_rng(random_seed)
    lengths = _cycle_lengths(profile, rng)
    step = lengths.sum() / rows
    rows_per_cycle = _allocate_rows(lengths / step, rows)

    cycle = np.repeat(np.arange(profile.cycles), rows_per_cycle)
    first_row_of_cycle = np.concatenate(([0], np.cumsum(rows_per_cycle)[:-1]))
    position_in_cycle = np.arange(rows) - first_row_of_cycle[cycle]
    # Each cycle ends on its failure row, RUL 0, and RUL falls by one step per row.
    rul = (rows_per_cycle[cycle] - 1 - position_in_cycle) * step

    health = np.clip(rul / profile.max_rul_hours, 0.0, 1.0)
    shape = degradation_curve(profile.degradation_pattern, 1.0 - health)
    base = np.array([s.base for s in profile.sensors])
    span = np.array([s.range for s in profile.sensors])
    noise = np.array([s.noise for s in profile.sensors])
    values = base + shape[:, None] * span + rng.standard_normal((rows, len(base))) * noise

    frame = pd.DataFrame(values, columns=profile.sensor_names)
    frame.insert(0, "rul", rul)
    frame.insert(0, "cycle", cycle)
    frame.insert(0, "timestamp", pd.Timestamp(start) + pd.to_timedelta(np.arange(rows) * step, unit="h"))
    return frame


def _cycle_lengths(profile: DegradationProfile, rng: np.random.Generator) -> np.ndarray:
    """max_rul · U(0.7, 1.0) + N(0, rul noise) per cycle, in hours."""
    lengths = profile.max_rul_hours * rng.uniform(0.7, 1.0, profile.cycles)
    lengths += rng.normal(0.0, profile.rul_noise_hours, profile.cycles)
    return np.maximum(lengths, _MIN_CYCLE_SHARE * profile.max_rul_hours)


def _allocate_rows(shares: np.ndarray, rows: int) -> np.ndarray:
    """Whole row counts proportional to shares that sum to rows (largest remainder), 2+ each."""
    counts = np.floor(shares).astype(int)
    remainder_order = np.argsort(counts - shares)  # largest fractional part first
    counts[remainder_order[: rows - counts.sum()]] += 1
    short = counts < 2
    if short.any():
        counts[np.argmax(counts)] -= int((2 - counts[short]).sum())
        counts[short] = 2
    return counts


def split_holdout(seed: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(fit rows, last cycle): the last run to failure, held out for scoring or replaying telemetry."""
    if "cycle" not in seed.columns:
        raise ValueError("seed: a 'cycle' column is needed to hold out the last cycle")
    last = seed["cycle"].max()
    if seed["cycle"].nunique() < 2:
        raise ValueError("seed: holding out the last cycle needs at least 2 cycles")
    held = seed["cycle"] == last
    return seed.loc[~held].reset_index(drop=True), seed.loc[held].reset_index(drop=True)
