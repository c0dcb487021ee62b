"""Reading a run back from its work directory: its config, its per-seed metrics, and its state
(the carry of the newest intact checkpoint, with its policy readout): ``run.load(workdir)``.
Split from :mod:`jaxrl.run.runner`, which writes what this reads."""

from __future__ import annotations

import importlib
import os
from typing import Any, NamedTuple

import jax
import numpy as np

from jaxrl.run import checkpoints, readout
from jaxrl.run import workdir as workdir_files
from jaxrl.run.core import batch_inputs, unflatten
from jaxrl.run.experiment import ConfigError, Experiment, seed_keys
from jaxrl.run.hparams import Settings
from jaxrl.run.runner import config_settings, experiment_config


def result_arrays(workdir: str) -> dict[str, np.ndarray]:
    """The per-seed metrics of a finished run: ``{name: [chunks, settings, seeds]}``, plus
    ``step`` (training steps) and ``env_steps`` (environment steps per seed) of each chunk."""
    with np.load(os.path.join(workdir, "per_seed.npz")) as data:
        return {k: data[k] for k in data.files}


# ---------------------------------------------------------------------------------------------
# Loading a run's state.


class Loaded(NamedTuple):
    """What :func:`load` returns.

    Attributes:
        carry: the carry of the latest checkpoint, leaves ``[settings, seeds, ...]`` (NumPy).
        chunks_done: how many chunks that checkpoint covers (all of them for a finished run).
        config: the run's config (``ml_collections.ConfigDict``, rebuilt from ``config.json``).
        experiment: the experiment, rebuilt with ``make_experiment(config)`` of the module
            ``config.experiment`` names.
        settings: the run's :class:`~jaxrl.run.Settings`.
    """

    carry: Any
    chunks_done: int
    config: Any
    experiment: Experiment
    settings: Settings

    def policy(self, setting: int = 0, seed: int = 0, mode: str = "greedy"):
        """Seed ``seed`` of setting ``setting``: ``act(obs, key) -> action`` (see
        :func:`jaxrl.run.readout.policy`), e.g. ``run.load(workdir).policy(setting=0, seed=3)``."""
        return readout.policy(
            self.experiment,
            self.carry,
            self.settings.hparams,
            setting=setting,
            seed=seed,
            mode=mode,
        )

    def values(self, setting: int = 0, seed: int = 0):
        """Seed ``seed`` of setting ``setting``: its value estimate ``values(obs)`` (see
        :func:`jaxrl.run.readout.values`)."""
        return readout.values(
            self.experiment, self.carry, self.settings.hparams, setting=setting, seed=seed
        )


def load_config(workdir: str):
    """The config of the run in ``workdir`` (from ``config.json``), as a locked ConfigDict."""
    import ml_collections

    path = os.path.join(workdir, workdir_files.CONFIG_FILE)
    if not os.path.exists(path):
        raise ConfigError(f"no run in {workdir}: {workdir_files.CONFIG_FILE} is missing")
    config = ml_collections.ConfigDict(workdir_files.read_config_json(path))
    config.lock()
    return config


def load(workdir: str) -> Loaded:
    """The state of the run in ``workdir``: to evaluate its agents, or to start another run
    from it (e.g. preference optimization from a supervised run's parameters).

    The experiment is rebuilt from the config's ``experiment`` module, so its carry comes back
    with its own types (NamedTuples, flax parameter dicts), restored on the default device. The
    newest checkpoint that reads back with its checksum intact is used (nothing is moved).
    """
    config = load_config(workdir)
    if "experiment" not in config:
        raise ConfigError(f"the config in {workdir} does not name its experiment module")
    module = importlib.import_module(config.experiment)
    experiment = module.make_experiment(experiment_config(config))
    settings = config_settings(experiment, config)
    directory = os.path.join(workdir, workdir_files.CHECKPOINT_DIR)
    num_settings, num_seeds = len(settings.values), int(config.num_seeds)
    key_data, flat, wrap = batch_inputs(settings.hparams, seed_keys(int(config.seed), num_seeds))
    device = jax.sharding.SingleDeviceSharding(jax.local_devices()[0])
    shapes = jax.eval_shape(jax.vmap(wrap(experiment.init)), key_data, flat)
    abstract = jax.tree.map(
        lambda s: jax.ShapeDtypeStruct(s.shape, s.dtype, sharding=device), shapes
    )
    problems = []
    for done in reversed(checkpoints.steps(directory)):
        try:
            carry = checkpoints.restore(directory, done, abstract)
        except Exception as e:  # noqa: BLE001 (a damaged checkpoint: try the previous one)
            problems.append(f"{done}: {type(e).__name__}")
            continue
        carry = unflatten(jax.tree.map(np.asarray, carry), num_settings, num_seeds)
        return Loaded(carry, done, config, experiment, settings)
    damaged = f" (damaged: {', '.join(problems)})" if problems else ""
    raise ConfigError(f"the run in {workdir} has no intact checkpoint{damaged}")
