"""The preference bandit as the agents on it share it (DPO, the reward model, GRPO,
PPO-RLHF): its config fields and construction, the weights of its preference pairs, how a
policy on it stands against the closed-form optimum, its readout and its trade-off figure.

The bandit itself (rewards, reference, pairs, ``pi*``) is ``jaxrl.envs.preferences``.
"""

from __future__ import annotations

import os
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxrl.envs import preferences, rng
from jaxrl.run import fields, integer, real

# The counter stream of a seed's raw key that draws its sampled pairs (DPO's data stream, so
# every agent on the bandit draws the same pairs for the same seed).
PAIRS_STREAM = 0


def bandit_fields(when=None) -> dict:
    """The preference bandit's static fields (:func:`config_bandit` reads them), for the
    schemas of the agents on it."""
    return {
        "contexts": fields.static(fields.POSITIVE_INT, "the bandit's contexts", when=when),
        "responses": fields.static(integer(2), "responses per context", when=when),
        "reference_scale": fields.static(
            real(0.0, 100.0, high_open=True), "std of the reference's logits", when=when
        ),
        "problem_seed": fields.static(fields.COUNT, "seed of the rewards and reference", when=when),
    }


def empirical_weights(pairs: preferences.Pairs, cells: preferences.Pairs, responses: int):
    """The frequency of each ordered pair of ``cells`` among the sampled ``pairs``: the
    empirical loss of the sample is the loss weighted by these."""

    def index(p):
        return (p.context * responses + p.chosen) * responses + p.rejected

    size = int(cells.context.shape[0] // (responses - 1)) * responses  # X * K * K
    counts = jax.ops.segment_sum(pairs.weight, index(pairs), num_segments=size)
    return counts[index(cells)]


def config_bandit(config) -> preferences.Bandit:
    """The preference bandit of a config's ``contexts``, ``responses``, ``reference_scale`` and
    ``problem_seed``."""
    return preferences.make_bandit(
        jax.random.key(config.problem_seed),
        contexts=config.contexts,
        responses=config.responses,
        reference_scale=float(config.reference_scale),
    )


def bandit_metrics(optimum_bandit, bandit, logits, beta) -> dict[str, jax.Array]:
    """How a bandit policy ``softmax(logits)`` stands: ``kl_to_optimum = E_x KL(pi* || pi)``
    for the ``pi*`` of ``optimum_bandit`` at ``beta`` (and its largest context),
    ``kl_to_reference`` and ``expected_reward`` on ``bandit``."""
    log_pi = jax.nn.log_softmax(logits, axis=-1)
    optimum = preferences.optimal_log_policy(optimum_bandit, beta)
    return {
        "kl_to_optimum": jnp.mean(preferences.kl(optimum, log_pi)),
        "max_kl_to_optimum": jnp.max(preferences.kl(optimum, log_pi)),
        "kl_to_reference": jnp.mean(preferences.kl(log_pi, bandit.reference_logits)),
        "expected_reward": jnp.mean(jnp.sum(jnp.exp(log_pi) * bandit.reward, axis=-1)),
    }


def pair_weights(key, bandit: preferences.Bandit, cells: preferences.Pairs, num_pairs: int):
    """The weights of the ordered pairs ``cells`` (``preferences.bandit_pairs``) a seed trains
    on: their probabilities (``num_pairs = 0``, the exact expected loss), or their frequencies
    among ``num_pairs`` pairs drawn from the seed's :data:`PAIRS_STREAM`."""
    if not num_pairs:
        return cells.weight
    data_key = rng.counter_key(jax.random.key_data(key), 0, PAIRS_STREAM)
    sample = preferences.sample_bandit_pairs(data_key, bandit, num_pairs)
    return empirical_weights(sample, cells, bandit.reward.shape[1])


def on_task(name: str):
    """``config -> bool``: whether a config's ``task`` is ``name``, the ``when=`` of the fields
    that only the bandit (``"bandit"``) or only the language model (``"lm"``) has."""
    return lambda config: config.get("task") == name


def optimum_curve(optimum_bandit: preferences.Bandit, reference_logits, betas) -> np.ndarray:
    """``[n, 2]``: ``(E_x KL(pi* || pi_ref), E_x E_pi* r)`` of the exact optimum ``pi* ∝ pi_ref
    exp(r / beta)`` of ``optimum_bandit`` for each beta (the KL to ``reference_logits``)."""
    out = []
    for beta in betas:
        log_star = preferences.optimal_log_policy(optimum_bandit, beta)
        kl = float(jnp.mean(preferences.kl(log_star, reference_logits)))
        reward = jnp.sum(jnp.exp(log_star) * optimum_bandit.reward, axis=-1)
        out.append((kl, float(jnp.mean(reward))))
    return np.array(out)


def tradeoff_figures(curve, reward_metric: str, *, ylabel: str, curve_label: str):
    """A run's ``figures``: ``tradeoff.png``, each setting's and seed's final ``reward_metric``
    against its ``kl_to_reference`` (:func:`tradeoff_figure`), over ``curve(betas) -> [n, 2]``."""

    def figures(settings, arrays):
        return {
            "tradeoff": tradeoff_figure(
                settings,
                arrays["kl_to_reference"][-1],
                arrays[reward_metric][-1],
                curve,
                ylabel=ylabel,
                curve_label=curve_label,
            )
        }

    return figures


def bandit_figures(optimum_bandit: preferences.Bandit, reference_logits: jax.Array):
    """The bandit's ``figures``: ``tradeoff.png``, each setting's and seed's final expected
    reward against ``KL(pi || pi_ref)``, over the exact curve of ``pi* ∝ pi_ref exp(r / beta)``
    (``optimum_bandit``'s reference and reward; the KL to ``reference_logits``)."""
    return tradeoff_figures(
        lambda betas: optimum_curve(optimum_bandit, reference_logits, betas),
        "expected_reward",
        ylabel="expected reward E_x E_pi r",
        curve_label="pi* = pi_ref exp(r / beta) / Z",
    )


def bandit_policy(carry, hparams, mode: str):
    """The bandit's readout: ``act(contexts, key)``, the response of each context (int ids of
    any shape), the most likely one (``"greedy"``) or one drawn from ``softmax(theta[x])``
    (``carry.logits [X, K]``)."""
    if mode == "greedy":
        return lambda contexts, key: jnp.argmax(carry.logits[contexts], axis=-1).astype(jnp.int32)
    return lambda contexts, key: jax.random.categorical(key, carry.logits[contexts]).astype(
        jnp.int32
    )


def tradeoff_figure(settings, kl, reward, optimum_curve, *, ylabel, curve_label):
    """Reward against ``KL(pi || pi_ref)`` at the end of training, a point per seed coloured by
    setting, over ``optimum_curve(betas) -> [n, 2]`` (the optimum's KL and reward) as beta
    varies from 0.03 to 30.

    Args:
        settings: the run's settings (each with a ``beta``).
        kl, reward: ``[settings, seeds]`` final values.
    """
    from jaxrl import plotting

    fig, axes = plotting.new_figure(1, 1, panel_size=5.0)
    ax = axes[0, 0]
    curve = optimum_curve(np.geomspace(0.03, 30.0, 60))
    ax.plot(curve[:, 0], curve[:, 1], color="0.4", lw=1.5, label=curve_label)
    for h, values in enumerate(settings.values):
        colour = f"C{h % 10}"
        ax.scatter(kl[h], reward[h], s=18, color=colour, label=settings.labels[h], zorder=3)
        star = optimum_curve([values["beta"]])[0]
        ax.scatter(*star, s=70, marker="*", facecolor="none", edgecolor=colour, zorder=4)
    ax.set_xscale("symlog", linthresh=1e-2)
    ax.set_xlabel("KL(pi || pi_ref)")
    ax.set_ylabel(ylabel)
    ax.set_title("the trade-off: points per seed, stars the optimum at each beta")
    ax.legend(fontsize=8)
    return fig


# A finished reward-model run as the reward of an RL run on the bandit.

REWARD_MODEL = "jaxrl.agents.reward_model"
REWARD_WORKDIR = fields.kind(
    lambda v: isinstance(v, str),
    "'' (the true reward), or the work directory of a finished reward-model run on the same "
    "task (python -m experiments.train --config=jaxrl/configs/reward_model_bandit.py:sampled, "
    "or dpo_lm.py:reward_model for the language model, --workdir=DIR)",
)


REWARD_WORKDIR_FIELD = fields.static(
    REWARD_WORKDIR, "a finished reward-model run whose r_phi replaces the true reward"
)


class LearnedReward(NamedTuple):
    """A finished reward-model run's parameters by seed: ``key_data`` ``[N, 2]`` (each seed's raw
    key) and ``reward``, leaves ``[N, ...]``: the bandit's tables ``r_phi`` ``[N, X, K]``, or a
    language model's (``jaxrl.agents.lm_rl``)."""

    key_data: Any
    reward: Any

    def of_key(self, key: jax.Array):
        """The parameters of the reward model's seed whose key is ``key`` (the same seed, so the
        same pairs: :func:`pair_weights`); NaN where no seed's is (the run then stops as
        diverging, naming the seed; :func:`learned_reward` checks that every seed of the run has
        one)."""
        match = jnp.all(jnp.asarray(self.key_data) == jax.random.key_data(key)[None], axis=-1)
        index, found = jnp.argmax(match), jnp.any(match)
        return jax.tree.map(
            lambda leaf: jnp.where(found, jnp.asarray(leaf)[index], jnp.nan), self.reward
        )


def learned_reward(config) -> LearnedReward | None:
    """The reward model of ``config.reward_workdir`` (None for ``''``: the true reward), refused
    in one line unless it is a finished run of ``jaxrl.agents.reward_model`` on this config's
    bandit, of one setting, with the same ``seed`` and at least this run's seeds."""
    from jaxrl import run
    from jaxrl.run import ConfigError

    workdir = config.reward_workdir
    if not workdir:
        return None
    where = f"config.reward_workdir = {workdir!r}"
    if not os.path.isdir(workdir):
        raise ConfigError(f"{where} is not a directory")
    theirs = run.load_config(workdir)
    if theirs.get("experiment") != REWARD_MODEL:
        raise ConfigError(
            f"{where} holds a run of {theirs.get('experiment')!r}, not of {REWARD_MODEL}"
        )
    for name in bandit_fields():
        if theirs.get(name) != config[name]:
            raise ConfigError(
                f"{where}: its reward model learned another bandit ({name} = "
                f"{theirs.get(name)!r} there, {config[name]!r} here)"
            )
    carry = finished_reward_run(workdir, where, theirs, config).carry
    return LearnedReward(np.asarray(carry.key_data[0]), np.asarray(carry.reward[0], np.float32))


def finished_reward_run(workdir: str, where: str, theirs, config):
    """``run.load(workdir)`` of a reward model's run (its config ``theirs``), refused in one line
    naming ``where`` unless it has this run's ``seed`` and at least its seeds (each seed trains
    on its own seed's reward model, learned from its own pairs), swept one setting and
    finished: the bandit's and the language model's learned rewards alike."""
    from jaxrl import run
    from jaxrl.run import ConfigError

    if theirs.seed != config.seed or theirs.num_seeds < config.num_seeds:
        raise ConfigError(
            f"{where}: its reward model has {theirs.num_seeds} seeds of seed {theirs.seed}; this "
            f"run needs {config.num_seeds} of seed {config.seed} (each seed learns its own pairs)"
        )
    loaded = run.load(workdir)
    if len(loaded.settings.values) != 1:
        raise ConfigError(f"{where} swept {len(loaded.settings.values)} settings: use a run of one")
    if loaded.chunks_done * theirs.chunk_steps < theirs.total_steps:
        raise ConfigError(f"{where}: the reward model's run has not finished")
    return loaded
