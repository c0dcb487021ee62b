"""The trained policy of a run, one seed at a time: ``act(obs, key) -> action``.

Every experiment may expose ``Experiment.policy`` (and ``Experiment.values``); these functions
pick one (setting, seed) out of a carry whose leaves are ``[settings, seeds, ...]`` (what
``run.train`` returns, or ``run.load`` reads back) and hand out its policy, jitted: one program
per experiment and mode, compiled once for all its seeds.
``run.load(workdir).policy(setting, seed, mode)`` is the usual door.
"""

from __future__ import annotations

import functools

import jax
import numpy as np

from jaxrl.run.core import on_host
from jaxrl.run.experiment import ConfigError, Experiment

POLICY_MODES = ("greedy", "sample")


def policy(
    experiment: Experiment, carry, hparams, *, setting: int = 0, seed: int = 0, mode="greedy"
):
    """One seed's trained policy, ``act(obs, key) -> action`` (jitted), from a carry whose
    leaves are ``[settings, seeds, ...]`` (:func:`jaxrl.run.train`'s, or :func:`load`'s) and the
    stacked ``hparams`` (``[settings]`` leaves).

    ``mode`` is ``"greedy"`` (the deterministic policy: argmax of the action values, the mean
    action, the most likely token) or ``"sample"`` (the stochastic one). ``act`` is batched over
    the observation's leading axes, as a network is.

    Raises:
        ConfigError: the experiment exposes no policy, or ``setting``, ``seed`` or ``mode`` is
            out of range.
    """
    if experiment.policy is None:
        raise ConfigError("this experiment exposes no policy (its Experiment has no policy)")
    if mode not in POLICY_MODES:
        raise ConfigError(f"mode must be one of {POLICY_MODES}, got {mode!r}")
    one, hparams_one = _one_seed(carry, hparams, setting, seed)
    program = _program(experiment.policy, mode)
    return lambda obs, key: program(one, hparams_one, obs, key)


def values(experiment: Experiment, carry, hparams, *, setting: int = 0, seed: int = 0):
    """One seed's trained value estimate, ``values(obs)`` (jitted): action values ``[..., A]``
    or state values ``[...]`` (see :func:`policy` for the arguments)."""
    if experiment.values is None:
        raise ConfigError("this experiment exposes no value estimate (its Experiment has none)")
    one, hparams_one = _one_seed(carry, hparams, setting, seed)
    program = _program(experiment.values, None)
    return lambda obs: program(one, hparams_one, obs)


@functools.lru_cache(maxsize=32)
def _program(readout, mode):
    """One jitted program per readout function (and mode), shared by every seed and setting:
    the seed's carry is an argument of the program, not a constant compiled into a new one."""
    if mode is None:
        return jax.jit(lambda carry, hparams, obs: readout(carry, hparams)(obs))
    return jax.jit(lambda carry, hparams, obs, key: readout(carry, hparams, mode)(obs, key))


def _one_seed(carry, hparams, setting, seed):
    """The carry of one (setting, seed) and the setting's hyperparameters, as device arrays."""
    num_settings, num_seeds = np.shape(jax.tree.leaves(carry)[0])[:2]
    for name, value, size in (("setting", setting, num_settings), ("seed", seed, num_seeds)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise ConfigError(f"{name} must be an integer, got {value!r}")
        if not 0 <= value < size:
            raise ConfigError(f"{name} must be in [0, {size}), got {value}")
    if on_host(carry):  # run.load's
        one = jax.tree.map(lambda leaf: jax.numpy.asarray(leaf[setting, seed]), carry)
    else:  # on the devices (run.train's): one program picks every leaf's seed
        one = _pick(carry, setting, seed)
    return one, jax.tree.map(lambda leaf: jax.numpy.asarray(np.asarray(leaf)[setting]), hparams)


@jax.jit
def _pick(carry, setting, seed):
    return jax.tree.map(lambda leaf: leaf[setting, seed], carry)
