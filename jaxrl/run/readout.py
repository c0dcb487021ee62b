"""The trained policy of a run, one seed at a time: ``act(obs, key) -> action``.

Every experiment may expose ``Experiment.policy`` (and ``Experiment.values``); these functions
pick one (setting, seed) out of a carry whose leaves are ``[settings, seeds, ...]`` (what
``run.train`` returns, or ``run.load`` reads back) and hand out its policy, jitted.
``run.load(workdir).policy(setting, seed, mode)`` is the usual door.
"""

from __future__ import annotations

import jax
import numpy as np

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
    return jax.jit(experiment.policy(one, hparams_one, mode))


def values(experiment: Experiment, carry, hparams, *, setting: int = 0, seed: int = 0):
    """One seed's trained value estimate, ``values(obs)`` (jitted): action values ``[..., A]``
    or state values ``[...]`` (see :func:`policy` for the arguments)."""
    if experiment.values is None:
        raise ConfigError("this experiment exposes no value estimate (its Experiment has none)")
    one, hparams_one = _one_seed(carry, hparams, setting, seed)
    return jax.jit(experiment.values(one, hparams_one))


def _one_seed(carry, hparams, setting, seed):
    """The carry of one (setting, seed) and the setting's hyperparameters, as device arrays."""
    num_settings, num_seeds = np.shape(jax.tree.leaves(carry)[0])[:2]
    for name, value, size in (("setting", setting, num_settings), ("seed", seed, num_seeds)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise ConfigError(f"{name} must be an integer, got {value!r}")
        if not 0 <= value < size:
            raise ConfigError(f"{name} must be in [0, {size}), got {value}")
    one = jax.tree.map(lambda leaf: jax.numpy.asarray(leaf[setting, seed]), carry)
    return one, jax.tree.map(lambda leaf: jax.numpy.asarray(leaf[setting]), hparams)
