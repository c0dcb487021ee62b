"""What an experiment gives the runner, and the hyperparameter grid it sweeps.

An experiment is a handful of pure functions (see :class:`Experiment`). The runner vmaps them over
the flattened ``settings x seeds`` axis, so every swept value must be an array leaf of the
experiment's ``Hparams`` NamedTuple: a sweep is one compiled program, never a recompile.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np


class Experiment(NamedTuple):
    """An algorithm as the runner sees it.

    Attributes:
        init: ``(key, hparams) -> carry``; ``key`` is a typed PRNG key for this seed, ``hparams``
            one setting (scalar leaves). The carry must be a pytree of plain arrays (no typed
            keys: keep ``jax.random.key_data``) so it can be checkpointed.
        train_chunk: ``(carry, hparams) -> (carry, metrics)``: ``chunk_steps`` steps of training
            (a ``lax.scan``), ``metrics`` a dict of scalar arrays describing the chunk.
        hparams_type: the ``Hparams`` NamedTuple class; its fields are the sweepable values.
        metrics: names of the metrics ``train_chunk`` returns, in the order to report them.
        main_metric: the one shown in progress lines and plotted.
        env_steps_per_chunk: environment steps one seed takes per chunk (for throughput).
    """

    init: Callable[[jax.Array, Any], Any]
    train_chunk: Callable[[Any, Any], tuple[Any, dict]]
    hparams_type: type
    metrics: tuple[str, ...]
    main_metric: str
    env_steps_per_chunk: int


def make_settings(
    hparams_type: type, defaults: Mapping[str, Any], sweep: Mapping[str, Sequence[Any]]
) -> tuple[Any, list[dict[str, float]]]:
    """The hyperparameter settings of a sweep, stacked, and their plain-Python description.

    ``sweep`` maps field names to lists of values, all of one length ``H``; they are zipped (the
    ``h``-th setting takes the ``h``-th value of every list), not crossed. Fields not swept keep
    their value from ``defaults``. Raises ``ValueError`` naming the field for unknown fields,
    missing defaults, lists of different lengths and non-finite values.

    Returns:
        ``(hparams, settings)``: an ``hparams_type`` with float32 leaves of shape ``[H]``, and
        one dict per setting.
    """
    fields = hparams_type._fields
    for name in defaults:
        if name not in fields:
            raise ValueError(f"hparams.{name} is not a hyperparameter; allowed: {list(fields)}")
    for name in fields:
        if name not in defaults:
            raise ValueError(f"hparams.{name} needs a default value")
    lengths = {}
    for name, values in sweep.items():
        if name not in fields:
            raise ValueError(f"sweep.{name} is not a hyperparameter; allowed: {list(fields)}")
        if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or not values:
            raise ValueError(f"sweep.{name} must be a non-empty list of numbers, got {values!r}")
        lengths[name] = len(values)
    if len(set(lengths.values())) > 1:
        raise ValueError(
            f"sweep lists must all have the same length (they are zipped); got lengths {lengths}"
        )
    num_settings = next(iter(lengths.values())) if lengths else 1
    columns = {}
    for name in fields:
        values = sweep[name] if name in sweep else [defaults[name]] * num_settings
        try:
            column = [float(v) for v in values]
        except (TypeError, ValueError):
            raise ValueError(f"{name} values must be numbers, got {values!r}") from None
        if not all(math.isfinite(v) for v in column):
            raise ValueError(f"{name} values must be finite, got {values!r}")
        columns[name] = column
    settings = [{name: columns[name][h] for name in fields} for h in range(num_settings)]
    hparams = hparams_type(**{n: jnp.asarray(columns[n], jnp.float32) for n in fields})
    return hparams, settings


def seed_keys(seed: int, num_seeds: int) -> jax.Array:
    """One typed key per seed index: ``fold_in(key(seed), i)``.

    Seed ``i``'s stream depends only on ``(seed, i)``, not on how many seeds or settings run
    beside it, so seed ``i`` of a sweep equals a run of seed ``i`` alone.
    """
    base = jax.random.key(seed)
    return jax.vmap(lambda i: jax.random.fold_in(base, i))(jnp.arange(num_seeds))


def settings_label(setting: Mapping[str, float], swept: Sequence[str]) -> str:
    """A short label such as ``learning_rate=0.1`` for the swept fields of a setting."""
    if not swept:
        return "default"
    return ", ".join(f"{name}={setting[name]:g}" for name in swept)


def tile_settings(hparams: Any, num_seeds: int) -> Any:
    """``[H]`` leaves to ``[H * num_seeds]``: item ``h * num_seeds + i`` is setting h, seed i."""
    return jax.tree.map(lambda x: jnp.repeat(x, num_seeds, axis=0), hparams)


def unflatten(values: np.ndarray, num_settings: int, num_seeds: int) -> np.ndarray:
    """``[H * num_seeds, ...]`` to ``[H, num_seeds, ...]`` (the inverse of the flattening)."""
    return np.asarray(values).reshape((num_settings, num_seeds) + np.shape(values)[1:])
