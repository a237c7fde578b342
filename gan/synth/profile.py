"""Degradation profiles that drive seed generation, and the 11 built-in categories (SPEC §1)."""

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

DEGRADATION_PATTERNS = ("linear_slow", "linear_medium", "linear_fast", "exponential")


@dataclass(frozen=True)
class SensorProfile:
    """One sensor: healthy value, change from healthy to failure (negative = falls), noise std-dev."""

    name: str
    base: float
    range: float
    noise: float
    unit: str = ""

    def __post_init__(self):
        if not self.name.isidentifier():
            raise ValueError(f"sensor name {self.name!r}: must be identifier-like (letters, digits, _)")
        if self.noise < 0:
            raise ValueError(f"{self.name}.noise: must be >= 0, got {self.noise}")


@dataclass(frozen=True)
class DegradationProfile:
    """Everything seed generation needs to know about one machine (or category)."""

    max_rul_hours: float
    cycles: int
    degradation_pattern: str
    rul_noise_hours: float
    sensors: tuple[SensorProfile, ...]

    def __post_init__(self):
        if self.max_rul_hours <= 0:
            raise ValueError(f"max_rul_hours: must be > 0, got {self.max_rul_hours}")
        if self.cycles < 1:
            raise ValueError(f"cycles: must be >= 1, got {self.cycles}")
        if self.degradation_pattern not in DEGRADATION_PATTERNS:
            raise ValueError(
                f"degradation_pattern: {self.degradation_pattern!r} is not one of {DEGRADATION_PATTERNS}"
            )
        if self.rul_noise_hours < 0:
            raise ValueError(f"rul_noise_hours: must be >= 0, got {self.rul_noise_hours}")
        if not self.sensors:
            raise ValueError("sensors: at least one sensor is needed")
        names = [sensor.name for sensor in self.sensors]
        if len(set(names)) != len(names):
            raise ValueError(f"sensors: names must be unique, got {names}")
        if "rul" in names or "timestamp" in names or "cycle" in names:
            raise ValueError("sensors: 'rul', 'timestamp' and 'cycle' are reserved column names")

    @property
    def sensor_names(self) -> list[str]:
        return [sensor.name for sensor in self.sensors]

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "DegradationProfile":
        """Build from the categories.json shape: {max_rul, cycles, pattern, rul_noise, sensors: [...]}."""
        return cls(
            max_rul_hours=float(data["max_rul"]),
            cycles=int(data["cycles"]),
            degradation_pattern=data["pattern"],
            rul_noise_hours=float(data["rul_noise"]),
            sensors=tuple(
                SensorProfile(
                    name=sensor["name"],
                    base=float(sensor["base"]),
                    range=float(sensor["range"]),
                    noise=float(sensor["noise"]),
                    unit=sensor.get("unit", ""),
                )
                for sensor in data["sensors"]
            ),
        )

    def to_dict(self) -> dict[str, Any]:
        """The categories.json shape, JSON-serialisable."""
        return {
            "max_rul": self.max_rul_hours,
            "cycles": self.cycles,
            "pattern": self.degradation_pattern,
            "rul_noise": self.rul_noise_hours,
            "sensors": [
                {"name": s.name, "unit": s.unit, "base": s.base, "range": s.range, "noise": s.noise}
                for s in self.sensors
            ],
        }


@cache
def _categories_json() -> str:
    return resources.files(__package__).joinpath("categories.json").read_text(encoding="utf-8")


def category_data() -> dict[str, dict[str, Any]]:
    """The 11 SPEC §1 categories as plain JSON data (a fresh copy the caller may modify)."""
    return json.loads(_categories_json())


def category_profiles() -> dict[str, DegradationProfile]:
    """The 11 SPEC §1 categories as profiles, keyed by category name, in SPEC order."""
    return {name: DegradationProfile.from_dict(data) for name, data in category_data().items()}


def category_profile(category: str) -> DegradationProfile:
    data = category_data()
    if category not in data:
        raise KeyError(f"unknown category {category!r}; known: {', '.join(data)}")
    return DegradationProfile.from_dict(data[category])
