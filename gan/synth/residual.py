"""The residual design: TVAE learns [rul, residuals around each sensor's monotone RUL trend].

Plain TVAE keeps column shapes but loosens the RUL↔sensor link. Here the link is kept out of the
network: each sensor's trend against RUL is fitted by isotonic regression, TVAE learns RUL jointly with
the residuals (so real cross-sensor structure in them is learned, not assumed away), and sampled rows
are put back together after calibration:

- RUL is mapped from TVAE's own RUL distribution onto the seed's quantiles;
- each residual gets the seed's conditional mean and spread at that RUL. TVAE shrinks residual spread
  by 35-50 % and leaves a spurious drift of the residual's mean along RUL (measured on cnc: correlation
  0.1-0.16 between RUL and raw residuals, bin means nearly 1 σ apart). A global rescale multiplies
  that drift, which moves the RUL–sensor correlation wherever noise is a large share of a sensor's
  variance, as on the flat early part of an exponential trend. Matching mean and spread per RUL bin
  removes both. An affine map per bin keeps TVAE's within-bin ranks and cross-sensor correlations.
  Measured at 150 epochs on the same fits, worst RUL-correlation gap with a global rescale vs per
  bin: cnc 0.027 vs 0.006, turbofan 0.158 vs 0.022 (T30: raw residual-RUL correlation -0.28).

Calibration statistics on the synthetic side come from one reference sample drawn right after
training, so sampling is a fixed row-wise transform that does not depend on the batch size.
"""

import numpy as np
import pandas as pd
from sklearn.isotonic import IsotonicRegression

# Resolution of the stored quantile functions (RUL mapping) and the bins of the residual calibration.
QUANTILE_POINTS = 1001
MAX_RUL_BINS = 20
MIN_ROWS_PER_BIN = 400
MIN_RUL_BINS = 4


class ResidualDecomposition:
    """Splits frames into [rul, residuals] for training and restores sampled rows to sensor values."""

    def __init__(self, frame: pd.DataFrame, sensors: list[str]):
        """frame: the training rows (rul and sensor columns)."""
        self.sensors = list(sensors)
        rul = frame["rul"].to_numpy(dtype=float)
        if np.ptp(rul) == 0:
            raise ValueError("rul: needs at least two distinct values to fit trends")
        self.trends = {
            sensor: IsotonicRegression(increasing="auto", out_of_bounds="clip").fit(rul, frame[sensor])
            for sensor in self.sensors
        }
        self._probabilities = np.linspace(0.0, 1.0, min(QUANTILE_POINTS, len(frame)))
        self._seed_rul_quantiles = np.quantile(rul, self._probabilities)
        bins = int(np.clip(len(frame) // MIN_ROWS_PER_BIN, MIN_RUL_BINS, MAX_RUL_BINS))
        # Heavily repeated RUL values (whole-cycle counts in real data) can merge quantile edges.
        self._bin_edges = np.unique(np.quantile(rul, np.linspace(0.0, 1.0, bins + 1)))
        self._kept_bins = slice(None)
        counts = self._per_bin(rul, pd.DataFrame({"rul": rul}), "count")[:, 0]
        self._kept_bins = counts >= 2  # a spread needs two rows; interpolation bridges the rest
        self._bin_centres = self._per_bin(rul, pd.DataFrame({"rul": rul}), "median")[:, 0]
        residuals = self.residuals(frame)[self.sensors]
        self._seed_mean = self._per_bin(rul, residuals, "mean")
        self._seed_std = self._per_bin(rul, residuals, "std")
        self._synthetic_rul_quantiles: np.ndarray | None = None
        self._synthetic_mean: np.ndarray | None = None
        self._synthetic_std: np.ndarray | None = None

    def residuals(self, frame: pd.DataFrame) -> pd.DataFrame:
        """[rul, one residual per sensor] — what TVAE trains on; residual columns keep sensor names."""
        rul = frame["rul"].to_numpy(dtype=float)
        out = pd.DataFrame({"rul": rul})
        for sensor in self.sensors:
            out[sensor] = frame[sensor].to_numpy(dtype=float) - self.trends[sensor].predict(rul)
        return out

    def calibrate(self, reference: pd.DataFrame) -> None:
        """Learn the synthetic side from a large raw TVAE sample of [rul, residuals]."""
        self._synthetic_rul_quantiles = np.quantile(reference["rul"], self._probabilities)
        rul = self._map_rul(reference["rul"])
        residuals = reference[self.sensors]
        # A bin TVAE left (nearly) empty gets the identity map rather than a guess.
        self._synthetic_mean = _fill(self._per_bin(rul, residuals, "mean"), self._seed_mean)
        self._synthetic_std = _fill(self._per_bin(rul, residuals, "std"), self._seed_std)

    def restore(self, raw: pd.DataFrame) -> pd.DataFrame:
        """Raw TVAE rows [rul, residuals] → [rul, sensors] with the seed's RUL link."""
        if self._synthetic_mean is None:
            raise RuntimeError("calibrate() must run before restore()")
        rul = self._map_rul(raw["rul"])
        centres = self._bin_centres
        gains = _safe_ratio(self._seed_std, self._synthetic_std)
        out = pd.DataFrame({"rul": rul})
        for index, sensor in enumerate(self.sensors):
            # Interpolating between bin centres keeps the map continuous in RUL.
            gain = np.interp(rul, centres, gains[:, index])
            synthetic_mean = np.interp(rul, centres, self._synthetic_mean[:, index])
            seed_mean = np.interp(rul, centres, self._seed_mean[:, index])
            residual = seed_mean + gain * (raw[sensor].to_numpy(dtype=float) - synthetic_mean)
            out[sensor] = self.trends[sensor].predict(rul) + residual
        return out

    def _map_rul(self, rul: pd.Series | np.ndarray) -> np.ndarray:
        """Synthetic RUL → its quantile in TVAE's RUL distribution → the seed's RUL at that quantile."""
        quantile = np.interp(rul, self._synthetic_rul_quantiles, self._probabilities)
        return np.interp(quantile, self._probabilities, self._seed_rul_quantiles)

    def _per_bin(self, rul: np.ndarray, values: pd.DataFrame, statistic: str) -> np.ndarray:
        """(kept bins × columns) statistic of values per RUL bin; NaN where values left a bin empty."""
        last_bin = len(self._bin_edges) - 2
        bins = np.clip(np.searchsorted(self._bin_edges, rul, side="right") - 1, 0, last_bin)
        grouped = pd.DataFrame(values.to_numpy(dtype=float)).groupby(bins).agg(statistic)
        return grouped.reindex(range(last_bin + 1)).to_numpy()[self._kept_bins]


def _fill(values: np.ndarray, fallback: np.ndarray) -> np.ndarray:
    return np.where(np.isnan(values), fallback, values)


def _safe_ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """numerator / denominator, 1 where either spread is missing or zero (nothing to rescale)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = numerator / denominator
    return np.where(np.isfinite(ratio) & (denominator > 0), ratio, 1.0)
