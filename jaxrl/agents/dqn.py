"""Deep Q-learning (DQN), with double DQN, Polyak targets and bagged ensembles as options.

Zhao, ch. 8.4 (Algorithm 8.3); Mnih et al. (2015), "Human-level control through deep
reinforcement learning", Nature 518; van Hasselt et al. (2016), double DQN,
https://arxiv.org/abs/1509.06461; Osband et al. (2016), bootstrapped DQN,
https://arxiv.org/abs/1602.04621.

On the off-policy scaffold (``jaxrl.agents.off_policy``: stepping, replay, warm-up, target
moves, evaluation). This file owns the rest:

* acting epsilon-greedily in the (ensemble-mean) Q-values, epsilon decaying linearly from
  ``epsilon_start`` to ``hparams.epsilon`` over ``exploration_steps`` environment steps;
* each update minimises ``loss(delta)`` (squared or Huber, ``jaxrl.losses``) of the Q-learning
  error from ``jaxrl.targets``, ``delta = r + gamma (1 - terminated) max_a' q_T(s', a') -
  q(s, a)``, or with ``double`` the double Q-learning error (the online network picks ``a'``);
* the target network moves every ``target_period`` training steps by ``tau`` (``tau = 1``:
  DQN's periodic copy).

An ensemble (``ensemble_size = K > 1``) holds K Q-networks as ONE parameter pytree with a leading
``[K]`` axis (``jaxrl.networks``). Bagging, online (Oza and Russell 2001): every transition is
stored with K Poisson(1) bootstrap weights, member ``k`` weights its loss by its own and draws its
own minibatches. A member bootstraps from its own target network (``ensemble_target =
"member"``) or from the target ensemble's ``"mean"``, ``"min"`` or ``"lcb"`` value
(``jaxrl.targets.ensemble_value``). Actions are greedy in the ensemble mean; with ``K = 1`` every
weight is 1: plain DQN. Any environment with discrete actions; on a finite MDP the scaffold
scores the greedy policy against the exact optimum.

Fields: ``SCHEMA`` (static and swept, each with its domain and purpose).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

from jaxrl import losses, networks, optim, policies, replay, targets
from jaxrl.agents import off_policy
from jaxrl.envs import spaces
from jaxrl.run import DISCOUNT, POSITIVE, PROBABILITY, fields, integer, real

ENSEMBLE_TARGETS = ("member", *targets.ENSEMBLE_VALUES)
MODULE = "jaxrl.agents.dqn"
SCHEMA = off_policy.SCHEMA.extend(
    MODULE,
    hidden=fields.static(fields.WIDTHS, "hidden layer widths of the Q-network"),
    epsilon_start=fields.static(real(0.0, 1.0), "exploration rate at step 0"),
    exploration_steps=fields.static(fields.COUNT, "env steps of the decay to hparams.epsilon"),
    loss=fields.static(fields.one_of(*losses.value.TD_LOSSES), "the TD error's loss"),
    double=fields.static(fields.BOOLEAN, "double DQN's target"),
    ensemble_size=fields.static(fields.POSITIVE_INT, "Q-networks in the ensemble (1: DQN)"),
    ensemble_target=fields.static(fields.one_of(*ENSEMBLE_TARGETS), "what a member bootstraps"),
    optimizer=fields.static(optim.BLOCK, "the optimizer (jaxrl.optim)"),
    learning_rate=fields.swept(POSITIVE, "the optimizer's step size"),
    gamma=fields.swept(DISCOUNT, "the discount"),
    epsilon=fields.swept(PROBABILITY, "final exploration rate"),
    target_period=fields.swept(integer(1), "training steps between target-network moves"),
    tau=fields.swept(real(0.0, 1.0, low_open=True), "target <- tau online + (1 - tau) target"),
    pessimism=fields.swept(real(0.0), "k of the 'lcb' ensemble target"),
    weight_decay=fields.swept(real(0.0), "adamw's decoupled decay (0 for other optimizers)"),
)
Hparams = SCHEMA.hparams_type


def check_config(config):
    """Refuses a bad DQN config in one line naming the field; returns its environment."""
    env = off_policy.check_config(config, SCHEMA)
    if config.ensemble_size > 1 and config.optimizer.max_grad_norm > 0:
        raise ValueError(
            f"config.optimizer.max_grad_norm = {config.optimizer.max_grad_norm} with "
            f"config.ensemble_size = {config.ensemble_size}: it must be 0 (clipping the global "
            f"norm of the stacked ensemble would couple its members)"
        )
    if not isinstance(env.action_space, spaces.Discrete):
        raise ValueError(f"DQN needs discrete actions; environment {env.name!r} has a box")
    return env


def bootstrap_weights(key: jax.Array, shape: tuple[int, ...], ensemble_size: int) -> jax.Array:
    """Bootstrap weights ``[*shape, K]`` of new transitions: Poisson(1) draws (online bagging),
    or all ones for a single network."""
    if ensemble_size == 1:
        return jnp.ones((*shape, 1), jnp.float32)
    return jax.random.poisson(key, 1.0, (*shape, ensemble_size)).astype(jnp.float32)


def bootstrap_batches(buffer: replay.ReplayState, key: jax.Array, ensemble_size: int, batch_size):
    """One minibatch per member, ``[K, B, ...]`` leaves: member k's ``B`` slots are drawn
    uniformly with replacement with ``jax.random.split(key, K)[k]``."""
    indices = jax.vmap(lambda k: replay.sample_indices(buffer, k, batch_size))(
        jax.random.split(key, ensemble_size)
    )
    return replay.gather(buffer, indices)


def td_errors(network, params, target_params, batch, *, gamma, double, ensemble_target, pessimism):
    """TD errors ``[K, B]`` of an ensemble, member k on its own minibatch ``batch[k]``.

    ``targets.q_learning`` or, with ``double``, ``targets.double_q_learning``, bootstrapping
    from member k's own target network (``ensemble_target = "member"``) or the target
    ensemble's combined value on member k's batch (``targets.ensemble_value``); the online
    selector is combined the same way. The discount is ``gamma (1 - terminated)``.

    Args:
        network: the flax module of one member.
        params, target_params: online and target ensembles (leaves ``[K, ...]``).
        batch: an ``off_policy.Transition`` whose leaves are ``[K, B, ...]``.
        gamma, pessimism: ``[]`` (may be traced); double, ensemble_target: static choices.
    """
    q_tm1 = networks.ensemble_apply_each(network, params, batch.obs)  # [K, B, A]
    discount = gamma * (1.0 - batch.terminated)  # [K, B]
    if ensemble_target == "member":
        q_t = networks.ensemble_apply_each(network, target_params, batch.next_obs)
        selector = networks.ensemble_apply_each(network, params, batch.next_obs)
    else:

        def combined(p, next_obs):  # every member's values on one member's batch: [B, A]
            values = jnp.swapaxes(networks.ensemble_apply(network, p, next_obs), 0, 1)
            value = lambda q: targets.ensemble_value(q, kind=ensemble_target, pessimism=pessimism)  # noqa: E731
            return jax.vmap(value)(values)  # [B, K, A] -> [B, A]

        q_t = jax.vmap(lambda x: combined(target_params, x))(batch.next_obs)
        selector = jax.vmap(lambda x: combined(params, x))(batch.next_obs)
    if double:
        return jax.vmap(jax.vmap(targets.double_q_learning))(
            q_tm1, batch.action, batch.reward, discount, q_t, selector
        )
    return jax.vmap(jax.vmap(targets.q_learning))(q_tm1, batch.action, batch.reward, discount, q_t)


def ensemble_td_loss(network, params, target_params, batch, *, loss: str, **kwargs):
    """The sum over members of each member's bootstrap-weighted mean loss.

    Member k's term is ``sum_b w_kb loss(delta_kb) / B`` with ``delta`` from :func:`td_errors`
    and ``w_kb = batch.extras[k, b, k]``, its own bootstrap weight of the transition. Member k's
    parameters enter only its own term, so one step of an elementwise optimizer (adam, no global
    norm clipping) on the stacked ensemble is K independent steps."""
    errors = td_errors(network, params, target_params, batch, **kwargs)  # [K, B]
    own = jnp.diagonal(batch.extras, axis1=0, axis2=2).T  # [K, B]: w[k, b, k]
    return jnp.sum(jnp.mean(own * losses.td_loss(errors, kind=loss), axis=-1))


def make_experiment(config):
    """The runner's view of DQN (see ``jaxrl/configs/dqn_grid.py`` and ``dqn_cartpole.py``)."""
    env = check_config(config)
    size, num_actions = config.ensemble_size, env.action_space.n
    dims = spaces.observation_axes(env.observation_space)  # an image is flattened
    network = networks.q_network(tuple(config.hidden), num_actions, input_dims=dims)
    epsilon_start = float(config.epsilon_start)
    exploration_steps = -(-config.exploration_steps // config.num_envs)  # training steps
    example = jnp.zeros(env.observation_space.shape, env.observation_space.dtype)

    block, _ = optim.over_the_run(config.optimizer, off_policy.run_updates(config))

    def optimizer(hparams: Hparams) -> optax.GradientTransformation:
        return optim.make_optimizer(
            block, learning_rate=hparams.learning_rate, weight_decay=hparams.weight_decay
        )

    def epsilon_at(step, hparams: Hparams):
        if exploration_steps == 0:
            return hparams.epsilon
        return optax.linear_schedule(epsilon_start, hparams.epsilon, exploration_steps)(step)

    def q_mean(params, obs):  # [..., A] the ensemble mean
        return jnp.mean(networks.ensemble_apply(network, params, obs), axis=0)

    def epsilon_greedy(q, u, epsilon):  # q [..., A], u [...]
        flat = jax.vmap(policies.epsilon_greedy_action, in_axes=(0, 0, None))(
            q.reshape(-1, num_actions), u.reshape(-1), epsilon
        )
        return flat.reshape(u.shape)

    def init(keys, hparams: Hparams):
        params = networks.ensemble_init(network, keys[0], example, size)
        return params, optimizer(hparams).init(params)

    def act(params, obs, draws, explore, hparams: Hparams, step, ready):
        q, epsilon = q_mean(params, obs), epsilon_at(step, hparams)
        return epsilon_greedy(q, draws.uniforms(), epsilon), explore

    def update(params, target_params, opt_state, batch, key, hparams: Hparams, step):
        loss, grads = jax.value_and_grad(ensemble_td_loss, argnums=1)(
            network,
            params,
            target_params,
            batch,
            gamma=hparams.gamma,
            loss=config.loss,
            double=config.double,
            ensemble_target=config.ensemble_target,
            pessimism=hparams.pessimism,
        )
        updates, opt_state = optimizer(hparams).update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, {"loss": loss / size}

    def policy(params, hparams: Hparams, mode: str):
        if mode == "greedy":
            return lambda obs, key: jnp.argmax(q_mean(params, obs), axis=-1).astype(jnp.int32)

        def sample(obs, key):  # epsilon-greedy at the final exploration rate
            q = q_mean(params, obs)
            return epsilon_greedy(q, jax.random.uniform(key, q.shape[:-1]), hparams.epsilon)

        return sample

    def chunk_metrics(params, obs, hparams: Hparams, step):
        return {
            # Always defined: NaN here (diverged parameters) stops the run with the seed named.
            "q_mean": jnp.mean(jnp.max(q_mean(params, obs), axis=-1)),
            "epsilon": epsilon_at(step - 1, hparams),
        }

    algorithm = off_policy.Algorithm(
        init_keys=1,
        init=init,
        act=act,
        update=update,
        policy=policy,
        target_update=lambda hparams: (hparams.target_period, hparams.tau),
        update_metrics=("loss",),
        chunk_metrics=chunk_metrics,
        chunk_metric_names=("q_mean", "epsilon"),
        extras=lambda key, n: bootstrap_weights(key, (n,), size),
        sample=lambda buffer, key: bootstrap_batches(buffer, key, size, config.batch_size),
        action_values=q_mean,
    )
    domains = SCHEMA.domains
    if config.optimizer.name != "adamw":  # only adamw reads a weight decay: refuse a sweep of it
        domains["weight_decay"] = real(0.0, 0.0)
    return off_policy.make_experiment(config, env, algorithm, SCHEMA, domains=domains)
