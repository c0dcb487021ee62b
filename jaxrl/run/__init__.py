"""The experiment runner: sweeps over seeds x hyperparameters, sharded, chunked, checkpointed.

* :class:`Experiment` (with :class:`Domain` per hyperparameter) is what an algorithm gives it;
* :func:`make_settings` / :func:`settings_from_config` build a sweep (zipped or crossed);
* :func:`train` is the in-memory core (one compiled program, final carry and metrics back);
* :func:`run` adds files, checkpoints, resume and extension; :func:`load` reads a run back.
"""

from jaxrl.run.core import DivergenceError, Program, TrainResult, train
from jaxrl.run.experiment import (
    DISCOUNT,
    POSITIVE,
    PROBABILITY,
    ConfigError,
    Domain,
    Experiment,
    integer,
    real,
    seed_keys,
)
from jaxrl.run.hparams import SWEEP_MODES, Settings, make_settings, settings_from_config
from jaxrl.run.loading import Loaded, load, load_config, result_arrays
from jaxrl.run.readout import policy, values
from jaxrl.run.runner import (
    RunResult,
    WorkdirBusyError,
    check_config,
    config_settings,
    experiment_config,
    run,
    window_steps,
)

__all__ = [
    "DISCOUNT",
    "POSITIVE",
    "PROBABILITY",
    "SWEEP_MODES",
    "ConfigError",
    "DivergenceError",
    "Domain",
    "Experiment",
    "Loaded",
    "Program",
    "RunResult",
    "Settings",
    "TrainResult",
    "WorkdirBusyError",
    "check_config",
    "config_settings",
    "experiment_config",
    "integer",
    "load",
    "load_config",
    "make_settings",
    "policy",
    "real",
    "result_arrays",
    "run",
    "seed_keys",
    "settings_from_config",
    "train",
    "values",
    "window_steps",
]
