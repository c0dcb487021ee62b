"""Tests for ``jaxrl.optim``: updates against float64 hand computations, schedules, validation.

The hand computations are numpy loops written from the update rules in the docstrings (and the
papers). The library runs in float32 on parameters and gradients of size ~1 for a few steps, so
trajectories agree to ~1e-6; ATOL = 1e-5 leaves room, while every effect tested (weight decay,
momentum, clipping, the schedule) moves parameters by 1e-2 or more.
"""

from __future__ import annotations

import math

import chex
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
import pytest

from jaxrl import optim

ATOL = 1e-5

# f(w) = 0.5 * sum(a * (w - c)^2): curvatures spread over 16x so that Adam's per-coordinate
# normalisation matters.
A = np.array([1.0, 4.0, 0.25])
C = np.array([1.0, -2.0, 3.0])
W0 = np.array([0.5, 1.5, -1.0])


def quadratic(w):
    return 0.5 * jnp.sum(jnp.asarray(A, jnp.float32) * (w - jnp.asarray(C, jnp.float32)) ** 2)


def quadratic_grad(w):
    return A * (w - C)


def config(**fields) -> ml_collections.ConfigDict:
    block = optim.default_config()
    block.update(fields)
    return block


def trajectory(optimizer: optax.GradientTransformation, loss, w0, num_steps: int) -> jax.Array:
    """``[num_steps, ...]`` parameters after each of ``num_steps`` gradient steps on ``loss``."""

    def step(carry, _):
        w, state = carry
        updates, state = optimizer.update(jax.grad(loss)(w), state, w)
        w = optax.apply_updates(w, updates)
        return (w, state), w

    w0 = jnp.asarray(w0, jnp.float32)
    _, ws = jax.lax.scan(step, (w0, optimizer.init(w0)), length=num_steps)
    return ws


def trajectory_fn(block):
    """``(learning_rate, weight_decay) -> trajectory``: 6 steps on the quadratic from ``W0``."""

    def train(learning_rate, weight_decay):
        optimizer = optim.make_optimizer(
            block, learning_rate=learning_rate, weight_decay=weight_decay
        )
        return trajectory(optimizer, quadratic, W0, 6)

    return train


def run(block, num_steps, *, loss=quadratic, w0=W0, **hparams) -> np.ndarray:
    """``trajectory`` of ``make_optimizer(block, **hparams)``, jitted, as float64."""
    ws = jax.jit(lambda: trajectory(optim.make_optimizer(block, **hparams), loss, w0, num_steps))()
    return np.asarray(ws, np.float64)


# ---------------------------------------------------------------------------------------------
# Hand computations (float64), straight from the update rules.


def hand_adam(grad, w0, num_steps, *, lr, b1=0.9, b2=0.999, eps=1e-8, decoupled_decay=0.0):
    """Kingma and Ba (2015), Algorithm 1; with ``decoupled_decay``, Loshchilov and Hutter (2019),
    Algorithm 2: ``w <- w - lr * (mhat / (sqrt(vhat) + eps) + decoupled_decay * w)``."""
    w, m, v, out = np.array(w0, np.float64), 0.0, 0.0, []
    for t in range(1, num_steps + 1):
        g = grad(w)
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g**2
        mhat, vhat = m / (1 - b1**t), v / (1 - b2**t)
        w = w - lr * (mhat / (np.sqrt(vhat) + eps) + decoupled_decay * w)
        out.append(w)
    return np.array(out)


def hand_sgd(grad, w0, num_steps, *, lr, momentum):
    """Heavy ball: ``m <- g + momentum * m``, ``w <- w - lr * m``."""
    w, m, out = np.array(w0, np.float64), 0.0, []
    for _ in range(num_steps):
        m = grad(w) + momentum * m
        w = w - lr * m
        out.append(w)
    return np.array(out)


def hand_rmsprop(grad, w0, num_steps, *, lr, decay, eps, centered):
    """``n <- decay n + (1 - decay) g^2`` (and ``a`` likewise of ``g``), ``w <- w - lr g /
    sqrt(n - a^2 + eps)`` with ``a = 0`` unless centred."""
    w, n, a, out = np.array(w0, np.float64), 0.0, 0.0, []
    for _ in range(num_steps):
        g = grad(w)
        n = decay * n + (1 - decay) * g**2
        if centered:
            a = decay * a + (1 - decay) * g
        w = w - lr * g / np.sqrt(n - a**2 + eps)
        out.append(w)
    return np.array(out)


# ---------------------------------------------------------------------------------------------
# Decoupled weight decay.

LR = 0.1
LAMBDA = 0.5
STEPS = 6


def test_adamw_is_decoupled_and_adam_l2_is_not():
    """AdamW with decay lambda versus Adam on f + (lambda / 2) |w|^2 (Loshchilov & Hutter 2019).

    Both match their hand computations: AdamW's decay ``lambda * w`` is added after the adaptive
    normalisation, Adam+L2's enters the gradient and so the moments, and is divided by
    ``sqrt(vhat) + eps``. The trajectories differ by what the hand computations predict.
    """

    def l2_loss(w):
        return quadratic(w) + 0.5 * LAMBDA * jnp.sum(w**2)

    adamw = run(config(name="adamw"), STEPS, learning_rate=LR, weight_decay=LAMBDA)
    adam_l2 = run(config(name="adam"), STEPS, loss=l2_loss, learning_rate=LR)
    hand_decoupled = hand_adam(quadratic_grad, W0, STEPS, lr=LR, decoupled_decay=LAMBDA)
    hand_coupled = hand_adam(lambda w: quadratic_grad(w) + LAMBDA * w, W0, STEPS, lr=LR)
    np.testing.assert_allclose(adamw, hand_decoupled, atol=ATOL, rtol=0)
    np.testing.assert_allclose(adam_l2, hand_coupled, atol=ATOL, rtol=0)
    # They differ, by the predicted amount, far beyond the tolerance.
    predicted = hand_decoupled - hand_coupled
    assert np.max(np.abs(predicted)) > 100 * ATOL
    np.testing.assert_allclose(adamw - adam_l2, predicted, atol=2 * ATOL, rtol=0)
    # The first step, spelled out: Adam's first normalised step is g / (|g| + eps), a step of
    # size lr per coordinate whatever the curvature. Adam+L2 normalises g + lambda w away;
    # AdamW adds lr * lambda * w on top.
    g0 = quadratic_grad(W0)
    np.testing.assert_allclose(hand_decoupled[0], W0 - LR * (np.sign(g0) + LAMBDA * W0), atol=1e-6)
    np.testing.assert_allclose(hand_coupled[0], W0 - LR * np.sign(g0 + LAMBDA * W0), atol=1e-6)


def test_adamw_minus_adam_is_the_decay_at_every_state():
    """From the same moments, AdamW's update is Adam's minus ``lr * lambda * w`` exactly, while
    Adam+L2's is not: its decay passes through the moments and the normalisation."""
    w = jnp.asarray(W0, jnp.float32)
    adam = optim.make_optimizer(config(name="adam"), learning_rate=LR)
    adamw = optim.make_optimizer(config(name="adamw"), learning_rate=LR, weight_decay=LAMBDA)
    g = jnp.asarray(quadratic_grad(W0), jnp.float32)

    @jax.jit
    def updates():
        # two steps of other gradients first, so that the moments are not trivial
        adam_state, adamw_state = adam.init(w), adamw.init(w)
        for other in (jnp.array([1.0, -2.0, 0.5]), jnp.array([0.3, 0.1, -4.0])):
            _, adam_state = adam.update(other, adam_state, w)
            _, adamw_state = adamw.update(other, adamw_state, w)
        u_adam = adam.update(g, adam_state, w)[0]
        u_adamw = adamw.update(g, adamw_state, w)[0]
        u_l2 = adam.update(g + LAMBDA * w, adam_state, w)[0]
        return (u_adam, u_adamw, u_l2), (adam_state[0], adamw_state[0])

    (u_adam, u_adamw, u_l2), (adam_moments, adamw_moments) = updates()
    # AdamW's moments are those of the gradients alone: the decay never enters them.
    chex.assert_trees_all_equal(adam_moments, adamw_moments)
    u_adam, u_adamw, u_l2 = (np.asarray(u, np.float64) for u in (u_adam, u_adamw, u_l2))
    np.testing.assert_allclose(u_adamw - u_adam, -LR * LAMBDA * W0, atol=1e-6, rtol=0)
    assert np.max(np.abs((u_l2 - u_adam) - (-LR * LAMBDA * W0))) > 1e-2


# ---------------------------------------------------------------------------------------------
# Every optimizer against its hand computation.


@pytest.mark.parametrize(
    "fields,hand",
    [
        ({"name": "sgd"}, lambda n: hand_sgd(quadratic_grad, W0, n, lr=LR, momentum=0.0)),
        (
            {"name": "sgd", "momentum": 0.9},
            lambda n: hand_sgd(quadratic_grad, W0, n, lr=LR, momentum=0.9),
        ),
        (
            {"name": "rmsprop", "decay": 0.9, "eps": 1e-3},
            lambda n: hand_rmsprop(
                quadratic_grad, W0, n, lr=LR, decay=0.9, eps=1e-3, centered=False
            ),
        ),
        (
            {"name": "rmsprop", "decay": 0.9, "eps": 1e-3, "centered": True},
            lambda n: hand_rmsprop(
                quadratic_grad, W0, n, lr=LR, decay=0.9, eps=1e-3, centered=True
            ),
        ),
        (
            {"name": "adam", "b1": 0.8, "b2": 0.99, "eps": 1e-3},
            lambda n: hand_adam(quadratic_grad, W0, n, lr=LR, b1=0.8, b2=0.99, eps=1e-3),
        ),
    ],
    ids=["sgd", "sgd-momentum", "rmsprop", "rmsprop-centered", "adam"],
)
def test_optimizer_matches_hand_computation(fields, hand):
    np.testing.assert_allclose(run(config(**fields), 4, learning_rate=LR), hand(4), atol=ATOL)


# ---------------------------------------------------------------------------------------------
# Schedules.


def closed_form(t, *, lr, schedule, warmup, decay_steps, end_fraction):
    if t < warmup:
        return lr * t / warmup
    s = min(t - warmup, decay_steps)
    if schedule == "constant":
        return lr
    if schedule == "linear":
        return lr * (1 - (1 - end_fraction) * s / decay_steps)
    return lr * (end_fraction + (1 - end_fraction) * (1 + math.cos(math.pi * s / decay_steps)) / 2)


@pytest.mark.parametrize(
    "schedule,warmup", [("linear", 3), ("cosine", 3), ("cosine", 0), ("constant", 4)]
)
def test_schedule_closed_form(schedule, warmup):
    """``lr_t`` at every update count from 0 to past the end, and as the step SGD takes."""
    fields = {"schedule": schedule, "warmup_steps": warmup, "decay_steps": 10, "end_fraction": 0.1}
    lr, num_steps = 0.5, 20
    expected = np.array(
        [
            closed_form(
                t, lr=lr, schedule=schedule, warmup=warmup, decay_steps=10, end_fraction=0.1
            )
            for t in range(num_steps)
        ]
    )
    schedule_fn = optim.make_schedule(config(**fields), learning_rate=lr)
    lrs = jax.jit(jax.vmap(schedule_fn))(jnp.arange(num_steps))
    np.testing.assert_allclose(lrs, expected, atol=1e-6, rtol=1e-6)
    # Plain SGD on f(w) = w (gradient 1) moves w by -lr_t at update t: the schedule is wired in
    # and its count starts at 0.
    ws = run(
        config(name="sgd", **fields),
        num_steps,
        loss=lambda w: jnp.sum(w),
        w0=np.zeros(1),
        learning_rate=lr,
    )
    steps = np.diff(np.concatenate([[0.0], ws[:, 0]]))
    np.testing.assert_allclose(steps, -expected, atol=1e-6)


# ---------------------------------------------------------------------------------------------
# Clipping.


def test_clipping_scales_a_large_gradient_to_max_grad_norm():
    """With SGD at lr 1 the update is minus the clipped gradient, the global norm taken over the
    whole tree: a gradient of norm 13 is scaled by 2/13, one of norm 1 passes unchanged."""
    optimizer = optim.make_optimizer(config(name="sgd", max_grad_norm=2.0), learning_rate=1.0)
    params = {"a": jnp.zeros(2), "b": jnp.zeros((1, 1))}
    big = {"a": jnp.array([3.0, 4.0]), "b": jnp.array([[12.0]])}
    small = {"a": jnp.array([0.6, 0.0]), "b": jnp.array([[0.8]])}
    update = jax.jit(lambda g: optimizer.update(g, optimizer.init(params), params)[0])
    chex.assert_trees_all_close(update(big), jax.tree.map(lambda g: -g * 2.0 / 13.0, big))
    assert float(optax.tree.norm(update(big))) == pytest.approx(2.0, rel=1e-6)
    chex.assert_trees_all_close(update(small), jax.tree.map(lambda g: -g, small))


# ---------------------------------------------------------------------------------------------
# Traced hyperparameters.


@pytest.mark.parametrize(
    "fields",
    [
        {
            "name": "adamw",
            "schedule": "cosine",
            "decay_steps": 3,
            "warmup_steps": 2,
            "max_grad_norm": 1.0,
        },
        {"name": "rmsprop", "schedule": "linear", "decay_steps": 4, "end_fraction": 0.5},
    ],
    ids=["adamw-cosine-warmup-clip", "rmsprop-linear"],
)
def test_traced_hyperparameters_match_python_floats(fields):
    """``learning_rate`` and ``weight_decay`` as jit arguments and vmapped arrays give the
    updates that Python floats give, and a sweep of values traces once."""
    block = config(**fields)
    decay = 0.1 if fields["name"] == "adamw" else 0.0
    chex.clear_trace_counter()  # the parametrized cases share the traced function's code
    traced = jax.jit(chex.assert_max_traces(trajectory_fn(block), n=1))
    swept = jax.jit(jax.vmap(trajectory_fn(block)))(jnp.array([0.01, 0.3]), jnp.array([decay, 0]))
    for h, (lr, wd) in enumerate([(0.01, decay), (0.3, 0.0)]):
        python = run(block, 6, learning_rate=lr, weight_decay=wd)
        np.testing.assert_allclose(traced(lr, wd), python, atol=1e-6, rtol=1e-6)
        np.testing.assert_allclose(swept[h], python, atol=1e-6, rtol=1e-6)
    # The state's structure and contents do not depend on the hyperparameters.
    chex.assert_trees_all_equal(
        optim.make_optimizer(block, learning_rate=0.1, weight_decay=decay).init(W0),
        optim.make_optimizer(block, learning_rate=0.7, weight_decay=0.0).init(W0),
    )


# ---------------------------------------------------------------------------------------------
# Validation.


def test_default_config():
    block = optim.default_config()
    optim.check_config(block)
    assert block.to_dict() == {
        "name": "adam",
        "max_grad_norm": 0.0,
        "schedule": "constant",
        "decay_steps": 0,
        "end_fraction": 0.0,
        "warmup_steps": 0,
        "b1": 0.9,
        "b2": 0.999,
        "eps": 1e-8,
        "momentum": 0.0,
        "decay": 0.95,
        "centered": False,
    }
    for name in optim.OPTIMIZERS:
        for schedule in optim.SCHEDULES:
            optim.check_config(config(name=name, schedule=schedule, decay_steps=5))


def with_field(field, value) -> ml_collections.ConfigDict:
    """The default block with one field replaced (any type) or, for ``value=DELETE``, removed."""
    fields = optim.default_config().to_dict()
    if value is DELETE:
        del fields[field]
    else:
        fields[field] = value
    return ml_collections.ConfigDict(fields)


DELETE = object()


@pytest.mark.parametrize(
    "field,value",
    [
        ("name", "adamax"),
        ("name", "Adam"),
        ("schedule", "step"),
        ("max_grad_norm", -1.0),
        ("max_grad_norm", float("nan")),
        ("decay_steps", -5),
        ("decay_steps", 2.5),
        ("end_fraction", -0.1),
        ("end_fraction", 1.5),
        ("warmup_steps", -1),
        ("warmup_steps", True),
        ("b1", 1.0),
        ("b2", -0.5),
        ("eps", 0.0),
        ("momentum", -0.1),
        ("decay", 1.0),
        ("centered", "yes"),
        ("learning_rate", 0.1),  # not a field of the block
        ("eps", DELETE),
    ],
)
def test_bad_config_raises_one_line(field, value):
    with pytest.raises(ValueError, match=rf"^config\.optimizer\.{field} ") as info:
        optim.check_config(with_field(field, value))
    message = str(info.value)
    assert "\n" not in message and "it must be" in message
    if value is not DELETE:
        assert f"= {value!r}" in message
    with pytest.raises(ValueError):  # make_optimizer checks too
        optim.make_optimizer(with_field(field, value), learning_rate=0.1)


@pytest.mark.parametrize("schedule", ["linear", "cosine"])
def test_decaying_schedule_needs_decay_steps(schedule):
    with pytest.raises(ValueError, match=r"^config\.optimizer\.decay_steps = 0 with") as info:
        optim.check_config(config(schedule=schedule))
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    "name,hparams,match",
    [
        ("adam", {"learning_rate": 0.1, "weight_decay": 0.1}, "weight_decay = 0.1 with"),
        ("sgd", {"learning_rate": 0.1, "weight_decay": 1e-4}, "weight_decay = 0.0001 with"),
        ("adam", {"learning_rate": -0.1}, "learning_rate = -0.1:"),
        ("adam", {"learning_rate": float("nan")}, "learning_rate = nan:"),
        ("adamw", {"learning_rate": 0.1, "weight_decay": -0.01}, "weight_decay = -0.01:"),
    ],
)
def test_bad_hyperparameters_raise_one_line(name, hparams, match):
    with pytest.raises(ValueError, match=rf"^{match}") as info:
        optim.make_optimizer(config(name=name), **hparams)
    assert "\n" not in str(info.value) and "it must be" in str(info.value)
    # check_hyperparameters finds the bad value in a sweep's column too.
    column = {key: np.array([0.0, value]) for key, value in hparams.items()}
    with pytest.raises(ValueError):
        optim.check_hyperparameters(config(name=name), **column)


def test_a_decay_over_the_whole_run():
    """``decay_steps = 0`` in an experiment's block: the decay lasts the run's updates after the
    warm-up, and the schedule depends on the run's length; a constant schedule or a fixed count
    does not. Outside an experiment 0 is still refused; a run too short to reach its decay (a
    smoke run) is not."""
    block = config(schedule="cosine", decay_steps=0, warmup_steps=5)
    optim.check_config(block, whole_run=True)
    concrete, depends = optim.over_the_run(block, 105)
    assert depends and concrete["decay_steps"] == 100 and block["decay_steps"] == 0
    schedule = optim.make_schedule(concrete, learning_rate=1.0)
    assert float(schedule(105)) == pytest.approx(0.0, abs=1e-7) and float(schedule(55)) > 0.4
    for fixed in (config(schedule="constant"), config(schedule="linear", decay_steps=7)):
        assert optim.over_the_run(fixed, 105) == (dict(fixed), False)
    with pytest.raises(ValueError, match=r"^config\.optimizer\.decay_steps = 0 with"):
        optim.make_optimizer(block, learning_rate=0.1)
    assert optim.over_the_run(block, 5)[0]["decay_steps"] == 1
