"""Optimizers from config, built on optax: every algorithm's optimizer comes from here.

A config block (:func:`default_config`, conventionally ``config.optimizer``) fixes the structure:
the algorithm (``sgd``, ``rmsprop``, ``adam``, ``adamw``), its constants, gradient clipping and the
learning-rate schedule. The learning rate and the weight decay are not in the block: they are swept
hyperparameters, passed to :func:`make_optimizer` as keyword arguments and allowed to be traced JAX
scalars, so a sweep over them is a ``vmap`` of one compiled program. Build the optimizer inside
the traced function that uses it, from the hyperparameters passed there; its state's structure
depends on the config block only, never on the learning rate or weight decay, so a state made by
``init`` with one value serves an optimizer rebuilt with another.

The update applied to parameters ``w`` with gradient ``g`` at update ``t = 0, 1, ...`` is::

    g <- g * min(1, max_grad_norm / ||g||)        if max_grad_norm > 0 (global norm over the tree)
    w <- w + u_t,   u_t = -lr_t * d_t(g)

with ``lr_t`` the schedule of :func:`make_schedule` and ``d_t`` the optimizer's direction (see
:func:`make_optimizer`). ``check_config`` validates the block in plain Python before anything
compiles and raises a one-line ``ValueError`` naming the field.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from typing import Any

import chex
import jax
import ml_collections
import numpy as np
import optax

from jaxrl.run import fields

OPTIMIZERS = ("sgd", "rmsprop", "adam", "adamw")
SCHEDULES = ("constant", "linear", "cosine")


def default_config() -> ml_collections.ConfigDict:
    """The optimizer block, unlocked (the experiment's config locks it with the rest).

    Returns:
        A ``ConfigDict`` with the fields below; the learning rate and weight decay are
        hyperparameters of the experiment, not fields of this block.
    """
    config = ml_collections.ConfigDict()
    config.name = "adam"  # one of OPTIMIZERS
    config.max_grad_norm = 0.0  # clip gradients to this global norm; 0 = no clipping
    config.schedule = "constant"  # learning-rate decay after warm-up, one of SCHEDULES
    # updates over which "linear"/"cosine" decay; 0 (in an experiment's config): the whole run,
    # from its own total_steps (see over_the_run)
    config.decay_steps = 0
    config.end_fraction = 0.0  # final learning rate of the decay, as a fraction of the peak
    config.warmup_steps = 0  # updates of linear warm-up from 0 to the peak; 0 = none
    config.b1 = 0.9  # adam/adamw: decay rate of the first-moment (mean) estimate
    config.b2 = 0.999  # adam/adamw: decay rate of the second-moment estimate
    config.eps = 1e-8  # adam/adamw/rmsprop: denominator offset (inside the sqrt for rmsprop)
    config.momentum = 0.0  # sgd: heavy-ball momentum; 0 = plain SGD
    config.decay = 0.95  # rmsprop: decay rate of the squared-gradient average
    config.centered = False  # rmsprop: divide by the centred (variance) estimate instead
    return config


def _is_real(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))


def _real_in(low: float, high: float, *, low_open: bool = False, high_open: bool = False):
    """A check that a value is a real number in an interval, and its description."""

    def check(value: Any) -> bool:
        if not _is_real(value) or not math.isfinite(value):
            return False
        above = value > low if low_open else value >= low
        below = value < high if high_open else value <= high
        return above and below

    left = "(" if low_open else "["
    right = ")" if high_open else "]"
    return check, f"a number in {left}{low:g}, {high:g}{right}"


_NONNEGATIVE = (lambda v: _is_real(v) and math.isfinite(v) and v >= 0, "a finite number >= 0")
_POSITIVE = (lambda v: _is_real(v) and math.isfinite(v) and v > 0, "a finite number > 0")
_COUNT = (lambda v: _is_int(v) and v >= 0, "an integer >= 0")
_RATE = _real_in(0.0, 1.0, high_open=True)

# field -> (check, what it must be)
_FIELDS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "name": (lambda v: v in OPTIMIZERS, f"one of {OPTIMIZERS}"),
    "max_grad_norm": (_NONNEGATIVE[0], "a finite number >= 0 (0 turns clipping off)"),
    "schedule": (lambda v: v in SCHEDULES, f"one of {SCHEDULES}"),
    "decay_steps": _COUNT,
    "end_fraction": _real_in(0.0, 1.0),
    "warmup_steps": _COUNT,
    "b1": _RATE,
    "b2": _RATE,
    "eps": _POSITIVE,
    "momentum": _RATE,
    "decay": _RATE,
    "centered": (lambda v: isinstance(v, (bool, np.bool_)), "True or False"),
}


def check_config(optimizer_config, *, whole_run: bool = False) -> None:
    """Validates an optimizer block in plain Python, before anything compiles.

    Args:
        optimizer_config: a ``ConfigDict`` (or mapping) with exactly the fields of
            :func:`default_config`.
        whole_run: the block of an experiment's config, where ``decay_steps = 0`` with a
            decaying schedule means "over the whole run" (:func:`over_the_run` fills it in).

    Raises:
        ValueError: one line, ``config.optimizer.<field> = <value>...: it must be ...``, for the
            first missing, unknown or bad field (``decay_steps`` must be positive when
            ``schedule`` is ``"linear"`` or ``"cosine"``, unless ``whole_run``).
    """
    for field in optimizer_config:
        if field not in _FIELDS:
            raise ValueError(
                f"config.optimizer.{field} = {optimizer_config[field]!r} is not a field: "
                f"it must be one of {tuple(_FIELDS)}"
            )
    for field, (check, requirement) in _FIELDS.items():
        if field not in optimizer_config:
            raise ValueError(f"config.optimizer.{field} is missing: it must be {requirement}")
        value = optimizer_config[field]
        try:
            good = bool(check(value))
        except TypeError:  # e.g. an unhashable value tested for membership
            good = False
        if not good:
            raise ValueError(f"config.optimizer.{field} = {value!r}: it must be {requirement}")
    schedule = optimizer_config["schedule"]
    if schedule != "constant" and optimizer_config["decay_steps"] == 0 and not whole_run:
        raise ValueError(
            f"config.optimizer.decay_steps = 0 with config.optimizer.schedule = {schedule!r}: "
            f"it must be a positive integer (the number of updates the decay lasts; 0, the "
            f"whole run, only in an experiment's config, which knows its length)"
        )


def over_the_run(optimizer_config, updates: int) -> tuple[dict, bool]:
    """``(block, depends_on_total_steps)``: an experiment's optimizer block with a decay over the
    whole run made concrete, and whether the schedule depends on the run's length.

    A decaying schedule (``"linear"``, ``"cosine"``) with ``decay_steps = 0`` lasts the whole
    run: ``decay_steps`` becomes ``updates - warmup_steps``, where ``updates`` is the number of
    updates the run makes, which the experiment computes from its config's ``total_steps`` in
    ``make_experiment``. So ``--config.total_steps=N`` moves the end of the decay with the end
    of the run. Such a run cannot be extended (a longer run would have taken its first steps at
    other learning rates): the experiment declares ``depends_on_total_steps`` and the runner
    refuses a larger ``total_steps`` in one line. A positive ``decay_steps`` is a fixed number
    of updates, whatever the run's length: the rate holds at ``end_fraction * lr`` after it, and
    a run extended past it goes on at that rate.

    Args:
        optimizer_config: a valid block (``check_config(..., whole_run=True)``).
        updates: the run's number of optimizer updates (the count ``t`` of
            :func:`make_schedule` reaches it at the end of the run). A run too short to decay
            after its warm-up (a smoke run) gets a decay of one update, which it never reaches.
    """
    block = dict(optimizer_config)
    if block["schedule"] == "constant" or block["decay_steps"] > 0:
        return block, False
    block["decay_steps"] = max(int(updates) - int(block["warmup_steps"]), 1)
    return block, True


# A config's ``optimizer`` block, as a field of an experiment's schema (``jaxrl.run.fields``).
BLOCK = fields.block(
    lambda value, config: check_config(value, whole_run=True), "an optimizer block (jaxrl.optim)"
)


def _concrete(value: Any) -> np.ndarray | None:
    """``value`` as a numpy array if it is known now, ``None`` if it is traced."""
    if isinstance(value, jax.core.Tracer):
        return None
    return np.asarray(value)


def check_hyperparameters(optimizer_config, *, learning_rate, weight_decay=0.0) -> None:
    """Validates the swept values of :func:`make_optimizer` where they are concrete.

    Call it on the hyperparameter values of a sweep (scalars or arrays of values, one per
    setting) before compiling: :func:`make_optimizer` checks Python values itself but cannot
    check traced ones. Traced arguments are skipped.

    Args:
        optimizer_config: a valid optimizer block.
        learning_rate: the peak learning rate(s); each must be finite and ``>= 0``.
        weight_decay: the weight decay(s); each must be finite and ``>= 0``, and ``0`` unless
            the optimizer is ``adamw``.

    Raises:
        ValueError: one line naming the argument, its value and what it must be.
    """
    name = optimizer_config["name"]
    for arg, value in (("learning_rate", learning_rate), ("weight_decay", weight_decay)):
        array = _concrete(value)
        if array is None:
            continue
        if array.dtype.kind not in "iuf":  # signed, unsigned, float
            raise ValueError(f"{arg} = {value!r}: it must be a real number")
        if not np.all(np.isfinite(array)) or np.any(array < 0):
            raise ValueError(f"{arg} = {value!r}: it must be a finite number >= 0")
        if arg == "weight_decay" and name != "adamw" and np.any(array != 0):
            raise ValueError(
                f"weight_decay = {value!r} with config.optimizer.name = {name!r}: it must be 0 "
                f"(only 'adamw' applies weight decay; use it, or add an L2 term to the loss)"
            )


def make_schedule(optimizer_config, *, learning_rate) -> optax.Schedule:
    """The learning rate as a function of the update count, from the block's schedule fields.

    With ``lr`` the peak ``learning_rate``, ``W = warmup_steps``, ``D = decay_steps``,
    ``f = end_fraction`` and ``t = 0, 1, ...`` the number of updates already applied (optax's
    count: the first update uses ``t = 0``)::

        lr_t = lr * t / W                                    for t < W  (linear warm-up)
        lr_t = lr                                            "constant"
        lr_t = lr * (1 - (1 - f) * s / D)                    "linear"
        lr_t = lr * (f + (1 - f) * (1 + cos(pi * s / D)) / 2)  "cosine"

    for ``t >= W``, where ``s = min(t - W, D)``: the decay starts after the warm-up and holds
    ``f * lr`` after ``D`` updates. With a warm-up the first update has ``lr_0 = 0``, as in
    optax's warm-up schedules.

    The schedule is composed of optax schedules (``linear_schedule``, ``cosine_decay_schedule``,
    ``join_schedules``), which compute with ``jnp`` arithmetic, so ``learning_rate`` may be a
    traced scalar.

    Reference (cosine): Loshchilov and Hutter (2017), "SGDR: Stochastic Gradient Descent with
    Warm Restarts", ICLR, https://arxiv.org/abs/1608.03983 (one cycle, no restarts).

    Args:
        optimizer_config: a valid optimizer block (see :func:`check_config`).
        learning_rate: ``[]`` the peak learning rate, a Python number or a (traced) scalar.

    Returns:
        ``schedule(count) -> lr_t``.
    """
    schedule_name = optimizer_config["schedule"]
    decay_steps = int(optimizer_config["decay_steps"])
    end_fraction = float(optimizer_config["end_fraction"])
    warmup_steps = int(optimizer_config["warmup_steps"])
    if schedule_name == "constant":

        def decay(count):
            del count
            return learning_rate

    elif schedule_name == "linear":
        decay = optax.linear_schedule(learning_rate, learning_rate * end_fraction, decay_steps)
    else:
        decay = optax.cosine_decay_schedule(learning_rate, decay_steps, alpha=end_fraction)
    if warmup_steps == 0:
        return decay
    warmup = optax.linear_schedule(0.0, learning_rate, warmup_steps)
    return optax.join_schedules([warmup, decay], [warmup_steps])


def make_optimizer(
    optimizer_config, *, learning_rate, weight_decay=0.0
) -> optax.GradientTransformation:
    """The optimizer an experiment's config asks for, as an optax ``GradientTransformation``.

    With ``lr_t`` from :func:`make_schedule`, ``g_t`` the (clipped) gradient and the update count
    ``t = 1, 2, ...`` in the bias corrections, the update ``w_t = w_{t-1} + u_t`` is:

    - ``"sgd"``: ``m_t = g_t + momentum * m_{t-1}``, ``u_t = -lr_t * m_t`` (heavy ball;
      ``momentum = 0`` is plain SGD). Polyak (1964); Sutskever et al. (2013).
    - ``"rmsprop"``: ``n_t = decay * n_{t-1} + (1 - decay) * g_t^2``,
      ``u_t = -lr_t * g_t / sqrt(n_t + eps)``; with ``centered``, also
      ``a_t = decay * a_{t-1} + (1 - decay) * g_t`` and ``u_t = -lr_t * g_t / sqrt(n_t - a_t^2
      + eps)``. Note ``eps`` sits inside the square root (optax's default, as in Graves 2013 and
      DQN), unlike Adam's. Tieleman and Hinton (2012), Lecture 6.5, COURSERA.
    - ``"adam"``: ``m_t = b1 * m_{t-1} + (1 - b1) * g_t``, ``v_t = b2 * v_{t-1} + (1 - b2) *
      g_t^2``, ``mhat_t = m_t / (1 - b1^t)``, ``vhat_t = v_t / (1 - b2^t)``,
      ``u_t = -lr_t * mhat_t / (sqrt(vhat_t) + eps)``. Kingma and Ba (2015), "Adam: A Method for
      Stochastic Optimization", ICLR, https://arxiv.org/abs/1412.6980, Algorithm 1.
    - ``"adamw"``: Adam's moments of the loss gradient alone, and the weight decay applied to the
      parameters directly, outside the adaptive normalisation:
      ``u_t = -lr_t * (mhat_t / (sqrt(vhat_t) + eps) + weight_decay * w_{t-1})``. Adding
      ``(weight_decay / 2) * |w|^2`` to the loss of ``"adam"`` instead puts ``weight_decay * w``
      into ``g_t``, hence into ``m_t`` and ``v_t``, and divides it by ``sqrt(vhat_t) + eps``: the
      two differ for adaptive methods. Loshchilov and Hutter (2019), "Decoupled Weight Decay
      Regularization", ICLR, https://arxiv.org/abs/1711.05101, Algorithm 2 (optax's form, in which
      the schedule multiplier and the learning rate are one factor ``lr_t``, so the decay follows
      the schedule).

    When ``max_grad_norm > 0``, ``optax.clip_by_global_norm(max_grad_norm)`` comes first in the
    chain: the gradient, as one vector over all leaves, is rescaled to norm ``max_grad_norm`` if
    its norm is larger (Pascanu, Mikolov and Bengio 2013).

    ``weight_decay`` must be ``0`` for every optimizer but ``adamw``: a nonzero concrete value
    raises ``ValueError``. A traced ``weight_decay`` cannot be checked and is ignored by the
    other optimizers; an experiment that sweeps it should check the values before compiling
    (:func:`check_hyperparameters`, or a domain of ``{0}``).

    Args:
        optimizer_config: the optimizer block (see :func:`default_config`); checked with
            :func:`check_config`.
        learning_rate: ``[]`` the peak learning rate ``>= 0``, a Python number or a traced
            scalar.
        weight_decay: ``[]`` the decoupled weight decay ``>= 0`` of ``adamw``, a Python number
            or a traced scalar.

    Returns:
        An ``optax.GradientTransformation``; ``update(grads, state, params)`` needs ``params``
        for ``adamw``.
    """
    check_config(optimizer_config)
    chex.assert_rank([learning_rate, weight_decay], 0)
    check_hyperparameters(optimizer_config, learning_rate=learning_rate, weight_decay=weight_decay)
    name = optimizer_config["name"]
    schedule = make_schedule(optimizer_config, learning_rate=learning_rate)
    if name == "sgd":
        momentum = float(optimizer_config["momentum"])
        optimizer = optax.sgd(schedule, momentum=momentum if momentum > 0 else None)
    elif name == "rmsprop":
        optimizer = optax.rmsprop(
            schedule,
            decay=float(optimizer_config["decay"]),
            eps=float(optimizer_config["eps"]),
            centered=bool(optimizer_config["centered"]),
        )
    else:
        moments = {
            "b1": float(optimizer_config["b1"]),
            "b2": float(optimizer_config["b2"]),
            "eps": float(optimizer_config["eps"]),
        }
        if name == "adam":
            optimizer = optax.adam(schedule, **moments)
        else:
            optimizer = optax.adamw(schedule, **moments, weight_decay=weight_decay)
    max_grad_norm = float(optimizer_config["max_grad_norm"])
    if max_grad_norm > 0:
        optimizer = optax.chain(optax.clip_by_global_norm(max_grad_norm), optimizer)
    return optimizer
