"""A k-armed Gaussian bandit learned by epsilon-greedy sample averages (Sutton and Barto, ch. 2;
Zhao's incremental mean, ch. 6.1): an experiment written outside the library, from its parts.

Arm ``a`` pays ``N(means[a], 1)``. Each step picks an arm epsilon-greedily from the estimates
(``jaxrl.policies.epsilon_greedy_action``), draws its reward from a counter-based stream
(``jaxrl.envs.rng``, as the library's own tabular agents do) and moves the arm's estimate by
``1 / n(a)``: its sample mean. Swept: ``epsilon``. Metrics per chunk: ``regret`` (the best arm's
mean minus the mean of the arms pulled in the chunk) and ``best_arm`` (1 when the greedy arm is
the best one).

What makes it runnable by the launcher is ``make_experiment(config) -> jaxrl.run.Experiment``;
its ``policy`` hands the trained estimates back through ``run.load(workdir).policy(...)``.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxrl import policies, run
from jaxrl.envs import rng


class Hparams(NamedTuple):
    epsilon: jax.Array  # the exploration probability, swept


class Carry(NamedTuple):
    q: jax.Array  # [k] the arms' sample means
    n: jax.Array  # [k] pulls of each arm
    t: jax.Array  # [] steps taken
    key_data: jax.Array  # [2] uint32: this seed's stream


def pull(key_data, t, arm, means):
    """Step ``t``'s reward of ``arm``: ``N(means[arm], 1)`` by Box-Muller from stream 1 (the
    exploration uniform is stream 0's)."""
    u1, u2 = rng.counter_uniforms(key_data, t, stream=1)
    return means[arm] + jnp.sqrt(-2.0 * jnp.log1p(-u1)) * jnp.cos(2.0 * jnp.pi * u2)


def make_experiment(config) -> run.Experiment:
    means = jnp.asarray(np.asarray(config.arm_means, np.float32))
    k, chunk_steps = int(means.shape[0]), int(config.chunk_steps)

    def init(key, hparams):
        zeros = jnp.zeros((k,), jnp.float32)
        return Carry(zeros, zeros, jnp.int32(0), jax.random.key_data(key))

    def train_chunk(carry: Carry, hparams: Hparams):
        def step(c: Carry, _):
            u, _ = rng.counter_uniforms(c.key_data, c.t, stream=0)
            arm = policies.epsilon_greedy_action(c.q, u, hparams.epsilon)
            reward = pull(c.key_data, c.t, arm, means)
            n = c.n.at[arm].add(1.0)
            q = c.q.at[arm].add((reward - c.q[arm]) / n[arm])  # the incremental mean
            return Carry(q, n, c.t + 1, c.key_data), means[arm]

        carry, pulled = jax.lax.scan(step, carry, None, length=chunk_steps)
        best = jnp.argmax(carry.q) == jnp.argmax(means)
        return carry, {"regret": jnp.max(means) - jnp.mean(pulled), "best_arm": best * 1.0}

    def policy(carry: Carry, hparams: Hparams, mode: str):
        def act(obs, key):  # one arm per row of obs (a bandit has no observation to read)
            shape = jnp.shape(obs)[:1]
            if mode == "greedy":
                return jnp.full(shape, jnp.argmax(carry.q), jnp.int32)
            u = jax.random.uniform(key, shape)
            return jax.vmap(lambda x: policies.epsilon_greedy_action(carry.q, x, hparams.epsilon))(
                u
            )

        return act

    return run.Experiment(
        init=init,
        train_chunk=train_chunk,
        hparams_type=Hparams,
        domains={"epsilon": run.PROBABILITY},
        metrics=("regret", "best_arm"),
        main_metric="regret",
        step_unit="pulls",
        policy=policy,
    )
