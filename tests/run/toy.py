"""A tiny deterministic experiment for testing the runner's mechanics."""

from typing import NamedTuple

import jax
import jax.numpy as jnp
import ml_collections

from jaxrl.envs import rng
from jaxrl.run import Experiment, integer, real


class ToyHparams(NamedTuple):
    scale: jax.Array
    drift: jax.Array


TOY_DOMAINS = {"scale": real(0.0), "drift": real()}


def toy_experiment(
    chunk_steps: int,
    *,
    nan_from_step: int | None = None,
    nan_metric: bool = False,
    env_steps_per_step: int = 1,
    depends_on_total_steps: bool = False,
) -> Experiment:
    """A random walk ``x += drift + scale (u - 1/2)`` with counter-based uniforms ``u``.

    ``nan_from_step``: ``x`` becomes NaN from that step on (divergence). ``nan_metric``: adds
    ``x_if_positive`` (``x`` where ``x > 0``, else NaN), declared as a may-be-NaN metric.
    """

    def init(key, hparams):
        del hparams
        return {"x": jnp.float32(0), "step": jnp.int32(0), "key": jax.random.key_data(key)}

    def train_chunk(carry, hparams):
        def body(c, _):
            u, _ = rng.counter_uniforms(c["key"], c["step"])
            x = c["x"] + hparams.drift + hparams.scale * (u - 0.5)
            return {**c, "x": x, "step": c["step"] + 1}, None

        carry, _ = jax.lax.scan(body, carry, None, length=chunk_steps)
        x = carry["x"]
        if nan_from_step is not None:
            x = jnp.where(carry["step"] >= nan_from_step, jnp.nan, x)
        metrics = {"x": x, "abs_x": jnp.abs(x)}
        if nan_metric:
            metrics["x_if_positive"] = jnp.where(x > 0, x, jnp.nan)
        return carry, metrics

    return Experiment(
        init=init,
        train_chunk=train_chunk,
        hparams_type=ToyHparams,
        domains=TOY_DOMAINS,
        metrics=("x", "abs_x") + (("x_if_positive",) if nan_metric else ()),
        main_metric="x",
        env_steps_per_step=env_steps_per_step,
        nan_metrics=("x_if_positive",) if nan_metric else (),
        depends_on_total_steps=depends_on_total_steps,
    )


class CountHparams(NamedTuple):
    rate: jax.Array
    period: jax.Array  # an integer hyperparameter


def count_experiment(chunk_steps: int) -> Experiment:
    """Counts the steps at which ``step % period == 0``; adds ``rate`` every step (exact)."""

    def init(key, hparams):
        del key, hparams
        return {"hits": jnp.int32(0), "total": jnp.float32(0), "step": jnp.int32(0)}

    def train_chunk(carry, hparams):
        def body(c, _):
            step = c["step"] + 1
            hit = (step % hparams.period == 0).astype(jnp.int32)
            return {"hits": c["hits"] + hit, "total": c["total"] + hparams.rate, "step": step}, None

        carry, _ = jax.lax.scan(body, carry, None, length=chunk_steps)
        return carry, {"hits": carry["hits"].astype(jnp.float32), "total": carry["total"]}

    return Experiment(
        init=init,
        train_chunk=train_chunk,
        hparams_type=CountHparams,
        domains={"rate": real(0.0, 1.0), "period": integer(1, 100)},
        metrics=("hits", "total"),
        main_metric="hits",
    )


def toy_config(**overrides) -> ml_collections.ConfigDict:
    config = ml_collections.ConfigDict()
    config.seed = 3
    config.num_seeds = 4
    config.total_steps = 60
    config.chunk_steps = 10
    config.checkpoint_every = 2
    config.hparams = ml_collections.ConfigDict({"scale": 1.0, "drift": 0.0})
    config.sweep = ml_collections.ConfigDict({"drift": [0.0, 0.5, -0.5]})
    config.sweep_mode = "zip"
    for key, value in overrides.items():
        config[key] = value
    config.lock()
    return config


def make_experiment(config) -> Experiment:
    """The toy as a module the runner's ``load`` (and the launcher) can rebuild from a config."""
    return toy_experiment(
        int(config.chunk_steps),
        nan_metric=bool(config.get("nan_metric", False)),
        env_steps_per_step=int(config.get("env_steps_per_step", 1)),
    )


def toy_module_config(**overrides) -> ml_collections.ConfigDict:
    """``toy_config`` naming this module as its experiment."""
    config = toy_config()
    with config.unlocked():
        config.experiment = "tests.run.toy"
        for key, value in overrides.items():
            config[key] = value
    return config
