"""On-policy RL fine-tuning on the preference bandit: the scaffold GRPO (``grpo.py``) and PPO-RLHF
(``ppo_rlhf.py``) share.

The bandit is DPO's (``preference_bandit.config_bandit``). The policy is a table of logits
``theta[x]``, started at the reference's, and a table of values ``V[x]`` (started at 0) for an agent
with a critic (an agent without one never reads it, so it stays 0). Every step draws ``samples``
responses per context from the policy (``[X, S]``, key ``counter_key(seed, step)``), then takes
``epochs`` optimizer steps of the agent's ``loss(params, old_log_probs, responses, bandit,
hparams)`` on them (``old_log_probs``: the sampling policy's, for PPO's ratio). What the agents
shape their advantages from is :func:`shaped_rewards`.

**The reward** the agent is handed (``bandit.reward`` in its loss) is the true ``r``, or, with
``config.reward_workdir`` naming a finished run of ``jaxrl.agents.reward_model``, the ``r_phi``
that run learned for the same seed (from the same pairs as DPO's seed:
``preference_bandit.learned_reward``), kept in the carry.

Reported after every chunk: ``preference_bandit.bandit_metrics`` (``kl_to_optimum``, ``E_x
KL(pi* || pi)`` against the true ``pi* ∝ pi_ref exp(r / beta)``, its largest context,
``kl_to_reference``, ``expected_reward`` of the true reward), and ``kl_to_fixed_point``, ``E_x
KL(pi_fp || pi)`` against the policy the agent's update converges to: ``pi*`` of the reward it is
handed, unless the agent says otherwise (GRPO with the KL in its loss).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from jaxrl import targets
from jaxrl.agents import preference_bandit, sft
from jaxrl.envs import preferences, rng
from jaxrl.run import Experiment

# The counter stream of a seed's raw key that draws step t's responses: not the stream of the
# pairs its reward model learned from (preference_bandit.PAIRS_STREAM, 0, for the same seed).
SAMPLE_STREAM = 3


class Params(NamedTuple):
    logits: jax.Array  # [X, K]
    values: jax.Array  # [X] a critic's V(x) (zeros, untouched, without one)


class Carry(NamedTuple):
    params: Params
    opt_state: Any
    step: jax.Array  # [] int32
    key_data: jax.Array  # [2] uint32
    reward: jax.Array  # [X, K] the reward trained on: the true r, or this seed's learned r_phi


def shaped_rewards(params: Params, responses, bandit: preferences.Bandit, beta):
    """``(log pi(y|x) [X, S], s [X, S])`` of the responses ``[X, S]``: the policy's
    log-probabilities (differentiable) and the KL-shaped rewards ``s = r(x, y) - beta k1(y)``,
    ``k1 = log pi(y|x) - log pi_ref(y|x)`` (``targets.kl_estimate``, gradient stopped): the
    score-function weights of the gradient of ``E_pi r - beta KL(pi || pi_ref)``, whose
    stationary point is ``pi*`` (``grpo.py`` derives it)."""
    log_pi = jnp.take_along_axis(jax.nn.log_softmax(params.logits, axis=-1), responses, axis=1)
    reference = jnp.take_along_axis(bandit.reference_logits, responses, axis=1)
    reward = jnp.take_along_axis(bandit.reward, responses, axis=1)
    kl = targets.kl_estimate(jax.lax.stop_gradient(log_pi), reference, "k1")
    return log_pi, reward - beta * kl


def bandit_policy(carry: Carry, hparams, mode: str):
    """The readout: DPO's bandit policy of the logits."""
    return preference_bandit.bandit_policy(carry.params, hparams, mode)


def make_experiment(config, schema, loss, *, samples: int, epochs: int, fixed_point=None):
    """An agent's ``Experiment`` on the bandit of ``config`` (checked against ``schema``, which
    declares ``reward_workdir``).

    Args:
        loss: ``(params, old_log_probs [X, S], responses [X, S], bandit, hparams) -> scalar``,
            ``bandit.reward`` the reward the agent is handed.
        samples: responses per context and step.
        epochs: optimizer steps per batch of responses.
        fixed_point: ``(bandit, hparams) -> log pi [X, K]``, the policy the update converges to
            on that bandit; default ``pi* ∝ pi_ref exp(r / beta)``.
    """
    schema.check(config)
    bandit = preference_bandit.config_bandit(config)
    learned = preference_bandit.learned_reward(config)  # None: the true reward
    if fixed_point is None:
        fixed_point = lambda trained, hparams: preferences.optimal_log_policy(  # noqa: E731
            trained, hparams.beta
        )
    contexts = config.contexts
    chunk_steps = int(config.chunk_steps)

    def optimizer(hparams):
        return sft.make_optimizer(config, hparams, updates_per_step=epochs)

    def init(key, hparams) -> Carry:
        values = jnp.zeros((contexts,), jnp.float32)
        params = Params(bandit.reference_logits, values)
        opt_state = optimizer(hparams).init(params)
        reward = bandit.reward if learned is None else learned.of_key(key)
        return Carry(params, opt_state, jnp.int32(0), jax.random.key_data(key), reward)

    def train_step(carry: Carry, hparams):
        key = rng.counter_key(carry.key_data, carry.step, SAMPLE_STREAM)
        responses = jax.random.categorical(
            key, carry.params.logits[:, None, :], shape=(contexts, samples)
        ).astype(jnp.int32)
        old = jax.lax.stop_gradient(
            jnp.take_along_axis(jax.nn.log_softmax(carry.params.logits), responses, axis=1)
        )

        trained = bandit._replace(reward=carry.reward)

        def epoch(state, _):
            params, opt_state = state
            grads = jax.grad(loss)(params, old, responses, trained, hparams)
            updates, opt_state = optimizer(hparams).update(grads, opt_state, params)
            return (jax.tree.map(jnp.add, params, updates), opt_state), None

        (params, opt_state), _ = jax.lax.scan(
            epoch, (carry.params, carry.opt_state), None, length=epochs
        )
        return carry._replace(params=params, opt_state=opt_state, step=carry.step + 1), None

    def train_chunk(carry: Carry, hparams):
        carry, _ = jax.lax.scan(
            lambda c, _: train_step(c, hparams), carry, None, length=chunk_steps
        )
        metrics = preference_bandit.bandit_metrics(
            bandit, bandit, carry.params.logits, hparams.beta
        )
        target = fixed_point(bandit._replace(reward=carry.reward), hparams)
        log_pi = jax.nn.log_softmax(carry.params.logits, axis=-1)
        metrics["kl_to_fixed_point"] = jnp.mean(preferences.kl(target, log_pi))
        return carry, metrics

    return Experiment(
        init=init,
        train_chunk=train_chunk,
        hparams_type=schema.hparams_type,
        domains=sft.check_domains(config, schema),
        metrics=(
            "kl_to_optimum",
            "max_kl_to_optimum",
            "kl_to_fixed_point",
            "kl_to_reference",
            "expected_reward",
        ),
        main_metric="kl_to_optimum",
        curve_metrics=("kl_to_optimum", "kl_to_fixed_point", "kl_to_reference", "expected_reward"),
        step_unit="gradient steps",
        env_steps_per_step=contexts * samples,
        figures=preference_bandit.bandit_figures(bandit, bandit.reference_logits),
        policy=bandit_policy,
        depends_on_total_steps=sft.depends_on_total_steps(config),
    )
