"""Shared fixtures: small real seed data and one short real TVAE fit reused across test files."""

import pytest
import torch

from gan.synth.profile import category_profile
from gan.synth.seed import generate_seed, split_holdout
from gan.synth.train import train

# The host is shared and small; one thread keeps fits predictable.
torch.set_num_threads(1)

FIT_EPOCHS = 6


@pytest.fixture(scope="session")
def motor_seed():
    return generate_seed(category_profile("motor"), 1_000, random_seed=7)


@pytest.fixture(scope="session")
def motor_split(motor_seed):
    return split_holdout(motor_seed)


@pytest.fixture(scope="session")
def trained(motor_split):
    """A residual-variant fit on the motor seed's fit rows, with every callback recorded."""
    fit_rows, _ = motor_split
    reports, stages = [], []
    synthesizer = train(
        fit_rows,
        epochs=FIT_EPOCHS,
        batch_size=200,
        on_epoch=reports.append,
        on_stage=stages.append,
        random_seed=0,
        torch_threads=1,
    )
    return synthesizer, reports, stages
