"""The experiment runner: sweeps over seeds x hyperparameters, sharded, chunked, checkpointed."""

from jaxrl.run.experiment import Experiment, make_settings, seed_keys
from jaxrl.run.runner import DivergenceError, check_config, result_arrays, run

__all__ = [
    "DivergenceError",
    "Experiment",
    "check_config",
    "make_settings",
    "result_arrays",
    "run",
    "seed_keys",
]
