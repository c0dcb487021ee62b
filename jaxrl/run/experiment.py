"""What an experiment gives the runner: pure functions, typed hyperparameters and their domains.

An experiment is a handful of pure functions (see :class:`Experiment`). The runner vmaps them over
the flattened ``settings x seeds`` axis, so every swept value must be an array leaf of the
experiment's ``Hparams`` NamedTuple: a sweep is one compiled program, never a recompile. Each
field declares its :class:`Domain` (a real interval or a range of integers), so the runner can
refuse a bad value before anything is compiled, and integer fields stay integers.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np


class ConfigError(ValueError):
    """Bad configuration or input, found before anything is compiled: the launcher reports it in
    one line. (Other exceptions are bugs and keep their traceback.)"""


# Column names of metrics.csv that hyperparameters may not take.
RESERVED_NAMES = ("chunk", "step", "env_steps", "setting", "label")


class Domain(NamedTuple):
    """The values a hyperparameter may take: an interval of reals, or a range of integers.

    Build one with :func:`real` or :func:`integer`, or use :data:`DISCOUNT`,
    :data:`PROBABILITY`, :data:`POSITIVE`.
    """

    integer: bool
    low: float
    high: float
    low_open: bool
    high_open: bool

    @property
    def dtype(self):
        return jnp.int32 if self.integer else jnp.float32

    def contains(self, value: float) -> bool:
        if not math.isfinite(value):
            return False
        if self.integer and value != int(value):
            return False
        above = value > self.low if self.low_open else value >= self.low
        below = value < self.high if self.high_open else value <= self.high
        return above and below

    def __str__(self) -> str:
        kind = "an integer" if self.integer else "a real number"
        low_inf, high_inf = self.low == -math.inf, self.high == math.inf
        if low_inf and high_inf:
            return kind
        if high_inf:
            return f"{kind} {'>' if self.low_open else '>='} {self.low:g}"
        if low_inf:
            return f"{kind} {'<' if self.high_open else '<='} {self.high:g}"
        left, right = "(" if self.low_open else "[", ")" if self.high_open else "]"
        return f"{kind} in {left}{self.low:g}, {self.high:g}{right}"


def real(
    low: float = -math.inf,
    high: float = math.inf,
    *,
    low_open: bool = False,
    high_open: bool = False,
) -> Domain:
    """A real (float32) hyperparameter in the interval from ``low`` to ``high``."""
    return Domain(False, float(low), float(high), low_open, high_open)


def integer(low: int | None = None, high: int | None = None) -> Domain:
    """An integer (int32) hyperparameter in ``[low, high]`` (``None``: unbounded)."""
    lo = -math.inf if low is None else float(low)
    hi = math.inf if high is None else float(high)
    return Domain(True, lo, hi, False, False)


DISCOUNT = real(0.0, 1.0, high_open=True)  # gamma in [0, 1)
PROBABILITY = real(0.0, 1.0)  # epsilon and other probabilities, in [0, 1]
POSITIVE = real(0.0, low_open=True)  # step sizes, temperatures, scales: > 0


class Experiment(NamedTuple):
    """An algorithm as the runner sees it.

    Attributes:
        init: ``(key, hparams) -> carry``; ``key`` is a typed PRNG key for this seed, ``hparams``
            one setting (scalar leaves). The carry must be a pytree of plain arrays (no typed
            keys: keep ``jax.random.key_data``) so it can be checkpointed.
        train_chunk: ``(carry, hparams) -> (carry, metrics)``: ``chunk_steps`` training steps
            (a ``lax.scan``), ``metrics`` a dict of scalar arrays describing the chunk.
        hparams_type: the ``Hparams`` NamedTuple class; its fields are the sweepable values.
        domains: ``{field: Domain}`` for every field of ``hparams_type``; integer domains make
            int32 leaves, real ones float32.
        metrics: names of the metrics ``train_chunk`` returns, in the order to report them.
        main_metric: the one shown in progress lines and plotted.
        env_steps_per_step: environment steps one seed takes per training step (scan
            iteration): 1 for one environment, N for N environments per seed, L when a step is an
            episode of L steps. Progress lines, CSV files and curves count environment steps.
        nan_metrics: metrics that may be NaN in a chunk because they are undefined there (the
            mean return of the episodes that ended in the chunk, when none did); statistics
            skip NaN seeds and report how many contributed, and divergence is not checked on
            them (only that they are not infinite).
        depends_on_total_steps: the experiment's schedules depend on ``config.total_steps``
            (e.g. a decay to the end of training), so a finished run cannot be extended by
            rerunning it with a larger ``total_steps``.
        curve_metrics: the metrics ``curves.png`` draws, one panel each (empty: the main metric
            alone).
        step_unit: what ``env_steps_per_step`` counts, for progress lines and axes
            ("environment steps"; e.g. "preference pairs" for an offline preference method).
        figures: optional ``(settings, arrays) -> {name: matplotlib Figure}`` drawing the
            experiment's own figures from a finished run (``arrays`` as
            :func:`jaxrl.run.result_arrays` returns them); the runner writes ``<name>.png``
            (``curves`` is the runner's own name: a figure of that name is not written).
        policy: optional ``(carry, hparams, mode) -> act(obs, key) -> action``: the trained
            policy of one seed's carry and one setting's hyperparameters, ``mode`` ``"greedy"``
            (deterministic) or ``"sample"``; ``act`` is batched over the observation's leading
            axes. ``run.load(workdir).policy(setting, seed)`` hands it out.
        values: optional ``(carry, hparams) -> values(obs)``: the trained value estimate, action
            values ``[..., A]`` of a value-based agent or state values ``[...]`` of a critic
            (``run.load(workdir).values(setting, seed)``).
    """

    init: Callable[[jax.Array, Any], Any]
    train_chunk: Callable[[Any, Any], tuple[Any, dict]]
    hparams_type: type
    domains: Mapping[str, Domain]
    metrics: tuple[str, ...]
    main_metric: str
    env_steps_per_step: int = 1
    nan_metrics: tuple[str, ...] = ()
    depends_on_total_steps: bool = False
    curve_metrics: tuple[str, ...] = ()
    step_unit: str = "environment steps"
    figures: Callable[[Any, dict], dict] | None = None
    policy: Callable[[Any, Any, str], Callable] | None = None
    values: Callable[[Any, Any], Callable] | None = None


def check_experiment(experiment: Experiment) -> None:
    """Raises ``ValueError`` if the experiment's declarations are inconsistent (our bug, or a
    fork's): a field without a domain, an unknown main or may-be-NaN metric, a bad step count."""
    fields = experiment.hparams_type._fields
    reserved = [f for f in fields if f in RESERVED_NAMES]
    if reserved:
        raise ValueError(f"hyperparameters may not be named {reserved} (columns of metrics.csv)")
    missing = [f for f in fields if f not in experiment.domains]
    if missing:
        raise ValueError(f"experiment declares no domain for the hyperparameters {missing}")
    extra = [f for f in experiment.domains if f not in fields]
    if extra:
        raise ValueError(f"experiment declares domains for unknown hyperparameters {extra}")
    if experiment.main_metric not in experiment.metrics:
        raise ValueError(
            f"main_metric {experiment.main_metric!r} is not one of the metrics "
            f"{list(experiment.metrics)}"
        )
    for field in ("nan_metrics", "curve_metrics"):
        unknown = [m for m in getattr(experiment, field) if m not in experiment.metrics]
        if unknown:
            raise ValueError(f"{field} {unknown} are not among the metrics")
    steps = experiment.env_steps_per_step
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 1:
        raise ValueError(f"env_steps_per_step must be a positive integer, got {steps!r}")


def seed_keys(seed: int, num_seeds: int) -> jax.Array:
    """One typed key per seed index: ``fold_in(key(seed), i)``.

    Seed ``i``'s stream depends only on ``(seed, i)``, not on how many seeds or settings run
    beside it, so seed ``i`` of a sweep equals a run of seed ``i`` alone.
    """
    base = jax.random.key(seed)
    return jax.vmap(lambda i: jax.random.fold_in(base, i))(jnp.arange(num_seeds))
