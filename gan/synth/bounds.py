"""SPEC §3.2 training bounds and defaults, importable without loading torch or SDV (the web side validates
requests with them)."""

VARIANTS = ("residual", "plain")
DEFAULT_VARIANT = "residual"
# For the layer that takes user input; train() itself accepts any positive value.
EPOCHS_RANGE = (50, 1000)
BATCH_SIZE_RANGE = (100, 2000)
DEFAULT_EPOCHS = 300
DEFAULT_BATCH_SIZE = 500
