"""A tiny deterministic experiment for testing the runner's mechanics."""

from typing import NamedTuple

import jax
import jax.numpy as jnp
import ml_collections

from jaxrl.envs import rng
from jaxrl.run import Experiment


class ToyHparams(NamedTuple):
    scale: jax.Array
    drift: jax.Array


def toy_experiment(chunk_steps: int, *, nan_from_step: int | None = None) -> Experiment:
    """A random walk ``x += drift + scale (u - 1/2)`` with counter-based uniforms ``u``."""

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
        return carry, {"x": x, "abs_x": jnp.abs(x)}

    return Experiment(init, train_chunk, ToyHparams, ("x", "abs_x"), "x", chunk_steps)


def toy_config(**overrides) -> ml_collections.ConfigDict:
    config = ml_collections.ConfigDict()
    config.seed = 3
    config.num_seeds = 4
    config.total_steps = 60
    config.chunk_steps = 10
    config.checkpoint_every = 2
    config.hparams = ml_collections.ConfigDict({"scale": 1.0, "drift": 0.0})
    config.sweep = ml_collections.ConfigDict({"drift": [0.0, 0.5, -0.5]})
    for key, value in overrides.items():
        config[key] = value
    config.lock()
    return config
