"""Fleet catalogue: categories with their RUL profile and sensors, machines, profile versions."""

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models

MACHINE_ID_VALIDATOR = RegexValidator(
    r"^[a-z0-9_]{3,100}$", "use 3–100 lowercase letters, digits or underscores, e.g. motor_abb_m3bp_002"
)


class DegradationPattern(models.TextChoices):
    LINEAR_SLOW = "linear_slow"
    LINEAR_MEDIUM = "linear_medium"
    LINEAR_FAST = "linear_fast"
    EXPONENTIAL = "exponential"


class HealthState(models.IntegerChoices):
    HEALTHY = 0, "Healthy"
    DEGRADING = 1, "Degrading"
    WARNING = 2, "Warning"
    CRITICAL = 3, "Critical"


class MachineCategory(models.Model):
    name = models.SlugField(max_length=50, unique=True, help_text="Also the profile's machine_type.")
    max_rul_hours = models.FloatField(validators=[MinValueValidator(1)])
    cycles = models.PositiveSmallIntegerField(validators=[MinValueValidator(1), MaxValueValidator(50)])
    degradation_pattern = models.CharField(max_length=20, choices=DegradationPattern.choices)
    rul_noise_hours = models.FloatField(default=0, validators=[MinValueValidator(0)])
    # Health state from the RUL fraction h = rul / max_rul (SPEC §4): Healthy h > healthy_above, …
    healthy_above = models.FloatField(default=0.5)
    degrading_above = models.FloatField(default=0.25)
    warning_above = models.FloatField(default=0.1)
    failure_modes = models.JSONField(default=list, blank=True)
    description = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "machine categories"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(healthy_above__gt=models.F("degrading_above"))
                & models.Q(degrading_above__gt=models.F("warning_above"))
                & models.Q(warning_above__gt=0),
                name="category_thresholds_descending",
            )
        ]

    def __str__(self):
        return self.name

    def rul_block(self) -> dict:
        """The category's RUL profile as a profile document's `rul` block."""
        return {
            "max_rul": self.max_rul_hours,
            "cycles": self.cycles,
            "degradation_pattern": self.degradation_pattern,
            "noise": self.rul_noise_hours,
            "failure_modes": list(self.failure_modes),
        }

    def health_state(self, rul_hours: float) -> HealthState:
        fraction = rul_hours / self.max_rul_hours
        if fraction > self.healthy_above:
            return HealthState.HEALTHY
        if fraction > self.degrading_above:
            return HealthState.DEGRADING
        if fraction > self.warning_above:
            return HealthState.WARNING
        return HealthState.CRITICAL


class SensorFields(models.Model):
    """A sensor's description and its physics for seed data: healthy `base`, `range` to failure, `noise`."""

    name = models.CharField(max_length=64)
    unit = models.CharField(max_length=16, blank=True)
    kind = models.CharField(max_length=16, default="numerical", editable=False)
    description = models.CharField(max_length=255, blank=True)
    base = models.FloatField(default=0)
    range = models.FloatField(default=1)
    noise = models.FloatField(default=0.1, validators=[MinValueValidator(0)])
    order = models.PositiveSmallIntegerField(default=0)

    class Meta:
        abstract = True
        ordering = ["order", "id"]

    def __str__(self):
        return f"{self.name} [{self.unit}]" if self.unit else self.name

    def document(self) -> dict:
        """The sensor as an entry of a profile document's `sensors` list."""
        return {
            "name": self.name,
            "unit": self.unit,
            "type": self.kind,
            "description": self.description,
            "base": self.base,
            "range": self.range,
            "noise": self.noise,
        }


class SensorSpec(SensorFields):
    category = models.ForeignKey(MachineCategory, on_delete=models.CASCADE, related_name="sensors")

    class Meta(SensorFields.Meta):
        constraints = [models.UniqueConstraint(fields=["category", "name"], name="unique_category_sensor")]


class Machine(models.Model):
    machine_id = models.CharField(max_length=100, unique=True, validators=[MACHINE_ID_VALIDATOR])
    category = models.ForeignKey(MachineCategory, on_delete=models.PROTECT, related_name="machines")
    manufacturer = models.CharField(max_length=100, blank=True)
    model = models.CharField(max_length=100, blank=True)
    location = models.CharField(max_length=200, blank=True)
    operational_parameters = models.JSONField(default=dict, blank=True)
    is_active = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["machine_id"]

    def __str__(self):
        return self.machine_id


class MachineSensor(SensorFields):
    """A machine's own sensor list: copied from its category by default, may differ."""

    machine = models.ForeignKey(Machine, on_delete=models.CASCADE, related_name="sensors")

    class Meta(SensorFields.Meta):
        constraints = [models.UniqueConstraint(fields=["machine", "name"], name="unique_machine_sensor")]


class ProfileVersion(models.Model):
    """The full profile document at each create or edit, with a readable diff against the previous one."""

    machine = models.ForeignKey(Machine, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    document = models.JSONField()
    diff = models.TextField(blank=True)
    note = models.CharField(max_length=200, blank=True)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["machine", "-number"]
        constraints = [models.UniqueConstraint(fields=["machine", "number"], name="unique_profile_version")]

    def __str__(self):
        return f"{self.machine} v{self.number}"
