"""Networks shared by the deep agents (flax linen), and ensembles of them held as one pytree.

An ensemble of ``K`` networks is not a Python list: its parameters are ONE pytree whose leaves
have a leading ``[K]`` axis, made by vmapping ``module.init`` over ``K`` keys and applied by
vmapping ``module.apply`` over that axis. A ``K``-member forward pass is then one batched program
(no Python loop over members), and the whole ensemble trains with one optimizer step.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

ACTIVATIONS = {"relu": nn.relu, "tanh": nn.tanh}


def orthogonal(scale: float = 1.0):
    """The orthogonal initializer of Saxe et al. (2014), https://arxiv.org/abs/1312.6120, for a
    2-D kernel ``[in, out]``, without a LAPACK call.

    A Gaussian matrix ``Z`` of shape ``[max(in, out), min(in, out)]`` is orthonormalised column
    by column (classical Gram-Schmidt, each projection applied twice, "twice is enough"), which
    is the ``Q`` of ``Z = QR`` with a positive diagonal in ``R``: a Haar-distributed matrix with
    orthonormal columns, transposed when ``in < out``, times ``scale``. That is what
    ``jax.nn.initializers.orthogonal`` draws from the same key (it takes ``Q`` from
    ``jnp.linalg.qr`` and fixes the signs); a test checks the two agree. Its QR is a LAPACK call,
    and jitted LAPACK calls sharded over several CPU host devices deadlock with jax 0.10.2, so
    no program the runner compiles may contain one (``init`` included).
    """

    def init(key: jax.Array, shape, dtype=jnp.float32) -> jax.Array:
        if len(shape) != 2:
            raise ValueError(f"orthogonal initialises 2-D kernels, got shape {tuple(shape)}")
        rows, cols = shape
        tall, wide = max(rows, cols), min(rows, cols)
        z = jax.random.normal(key, (tall, wide), jnp.float32)

        def column(j, q):  # the columns of q not made yet are 0: they project nothing away
            v = z[:, j]
            for _ in range(2):
                v = v - q @ (q.T @ v)
            return q.at[:, j].set(v / jnp.linalg.norm(v))

        q = jax.lax.fori_loop(0, wide, column, jnp.zeros((tall, wide), z.dtype))
        if rows < cols:
            q = q.T
        return (scale * q).astype(dtype)

    return init


class MLP(nn.Module):
    """A multilayer perceptron: hidden layers with an activation, then a linear output layer.

    Attributes:
        hidden: widths of the hidden layers (may be empty: a linear map).
        out: width of the output (e.g. the number of actions of a Q-network).
        activation: ``"relu"`` or ``"tanh"`` (a key of :data:`ACTIVATIONS`).
        output_scale: ``None`` for flax's default initialisation (LeCun normal weights, zero
            biases); a number for orthogonal weights (:func:`orthogonal`) with gain ``sqrt(2)``
            in the hidden layers
            and this gain in the output layer, zero biases: the policy-gradient initialisation of
            Andrychowicz et al. (2021), "What Matters in On-Policy Reinforcement Learning?",
            https://arxiv.org/abs/2006.05990 (a small policy output, 0.01, starts the policy
            near uniform).
        input_dims: how many trailing axes of the input make one observation (1: a vector; 3:
            an image such as MinAtar's 10x10xC grid), flattened before the first layer: a
            flattened-MLP torso.
    """

    hidden: Sequence[int]
    out: int
    activation: str = "relu"
    output_scale: float | None = None
    input_dims: int = 1

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        act = ACTIVATIONS[self.activation]
        if self.input_dims > 1:  # one observation is the trailing input_dims axes: flatten them
            x = x.reshape(*x.shape[: x.ndim - self.input_dims], -1)

        def dense(width: int, gain: float | None) -> nn.Dense:
            if self.output_scale is None:
                return nn.Dense(width)
            return nn.Dense(width, kernel_init=orthogonal(gain))

        for width in self.hidden:
            x = act(dense(width, float(np.sqrt(2.0)))(x))
        return dense(self.out, self.output_scale)(x)


class Tabular(nn.Module):
    """A table ``[num_states, out]`` read at an integer state: the tabular "network".

    ``apply(params, s)`` is ``table[s]`` for an int ``s`` of any batch shape, so a tabular
    softmax policy (logits ``theta[s]``) or a value table trains with the same losses, gradients
    and optax optimizers as a neural network; the gradient of ``table[s]`` is one-hot in ``s``
    (Zhao, ch. 9: the tabular softmax policy ``pi(a|s) = exp(theta_sa) / sum_b exp(theta_sb)``).

    Attributes:
        num_states: rows of the table.
        out: its width (actions for logits or action values, 1 for state values).
        init_value: every entry's initial value (0: a uniform policy, zero values).
    """

    num_states: int
    out: int
    init_value: float = 0.0

    @nn.compact
    def __call__(self, s: jax.Array) -> jax.Array:
        init = nn.initializers.constant(self.init_value)
        table = self.param("table", init, (self.num_states, self.out), jnp.float32)
        return table[jnp.asarray(s, jnp.int32)]


class StateActionValue(nn.Module):
    """``Q(s, a)``: an :class:`MLP` on the concatenated observation and action, one output (the
    critic of the continuous-action agents: DDPG, TD3, SAC)."""

    hidden: Sequence[int]

    @nn.compact
    def __call__(self, obs: jax.Array, action: jax.Array) -> jax.Array:
        return MLP(self.hidden, 1)(jnp.concatenate([obs, action], axis=-1))[..., 0]


LOG_STDS = ("free", "state")  # GaussianActor's log-std: a learned vector, or a head of the MLP
LOG_STD_RANGE = (-5.0, 2.0)  # a state-dependent log-std is clipped to this range


class GaussianActor(nn.Module):
    """A diagonal Gaussian policy's ``(mean, log_std)``, each ``[..., A]``: PPO's policy on box
    actions (see :func:`diagonal_gaussian`).

    Attributes:
        hidden, activation, input_dims: the torso, as :class:`MLP` (orthogonal initialisation,
            the mean's output layer at gain 0.01).
        action_dims: ``A``.
        log_std: ``"free"``: a learned vector ``[A]``, the same in every state (the usual PPO
            policy); ``"state"``: ``A`` more outputs of the MLP, clipped to
            :data:`LOG_STD_RANGE`.
        init_log_std: the log-std at initialisation (``"state"``: added to the head's output,
            which starts near 0).
    """

    hidden: Sequence[int]
    action_dims: int
    activation: str = "tanh"
    input_dims: int = 1
    log_std: str = "free"
    init_log_std: float = 0.0

    @nn.compact
    def __call__(self, x: jax.Array) -> tuple[jax.Array, jax.Array]:
        dims, state = self.action_dims, self.log_std == "state"
        out = MLP(
            self.hidden,
            2 * dims if state else dims,
            self.activation,
            output_scale=0.01,
            input_dims=self.input_dims,
        )(x)
        mean = out[..., :dims]
        if state:
            return mean, jnp.clip(out[..., dims:] + self.init_log_std, *LOG_STD_RANGE)
        init = nn.initializers.constant(self.init_log_std)
        log_std = self.param("log_std", init, (dims,), jnp.float32)
        return mean, jnp.broadcast_to(log_std, mean.shape)


def diagonal_gaussian(mean: jax.Array, log_std: jax.Array):
    """``N(mean, diag(exp(log_std))^2)`` over ``[..., A]`` actions, as independent Normals (a
    ``distrax.Independent``: its log-density and entropy are sums over the ``A`` axes, without
    MultivariateNormalDiag's triangular solve, a LAPACK call)."""
    import distrax

    return distrax.Independent(distrax.Normal(mean, jnp.exp(log_std)), reinterpreted_batch_ndims=1)


def squashed_gaussian(mean: jax.Array, log_std: jax.Array, *, low, high):
    """A Gaussian squashed into the box ``[low, high]``: ``a = center + scale * tanh(u)``,
    ``u ~ N(mean, diag(exp(log_std))^2)`` (SAC's policy; Haarnoja et al. 2018, appendix C), as
    a ``distrax.Transformed`` distribution over ``[..., A]`` actions. Its log-density is the
    change of variables ``log N(u) - sum_i log(scale_i (1 - tanh(u_i)^2))``, computed by distrax's
    stable ``Tanh`` bijector; ``sample_and_log_prob`` reparameterises the draw.

    Args:
        mean, log_std: ``[..., A]``.
        low, high: ``[A]`` the action bounds.
    """
    import distrax

    fit = lambda x: jnp.broadcast_to(jnp.asarray(x, jnp.float32), mean.shape)  # noqa: E731
    low, high = fit(low), fit(high)
    affine = distrax.ScalarAffine(shift=(high + low) / 2, scale=(high - low) / 2)
    squash = distrax.Block(distrax.Chain([affine, distrax.Tanh()]), ndims=1)
    # Independent Normals, not MultivariateNormalDiag: its log-density goes through a triangular
    # solve, a LAPACK call (which can deadlock when sharded over CPU devices).
    base = distrax.Independent(distrax.Normal(mean, jnp.exp(log_std)), reinterpreted_batch_ndims=1)
    return distrax.Transformed(base, squash)


def q_network(hidden: Sequence[int], num_actions: int, *, input_dims: int = 1) -> MLP:
    """A Q-network ``obs [..., D] -> q [..., A]``: an :class:`MLP` with one output per action
    (an observation of ``input_dims`` axes, ``[..., H, W, C]`` for 3, is flattened first).

    Raises ``ValueError`` for a non-positive width or number of actions.
    """
    hidden = tuple(hidden)
    if any(isinstance(w, bool) or not isinstance(w, int) or w < 1 for w in hidden):
        raise ValueError(f"hidden must be a tuple of positive integers, got {hidden!r}")
    if isinstance(num_actions, bool) or not isinstance(num_actions, int) or num_actions < 1:
        raise ValueError(f"num_actions must be a positive integer, got {num_actions!r}")
    return MLP(hidden=hidden, out=num_actions, input_dims=input_dims)


def ensemble_init(module: nn.Module, key: jax.Array, example: jax.Array, size: int) -> Any:
    """Parameters of ``size`` independently initialised copies of ``module``, stacked.

    Member ``k`` is initialised with ``jax.random.split(key, size)[k]``, so it equals
    ``module.init(that_key, example)`` (the ensemble equals ``size`` separate networks).

    Returns:
        A parameter pytree whose leaves have a leading ``[size]`` axis.
    """
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise ValueError(f"size must be a positive integer, got {size!r}")
    return jax.vmap(module.init, in_axes=(0, None))(jax.random.split(key, size), example)


def ensemble_apply(module: nn.Module, params: Any, x: jax.Array) -> jax.Array:
    """Every member applied to the same input: ``[K, ...]`` outputs (one vmapped program)."""
    return jax.vmap(module.apply, in_axes=(0, None))(params, x)


def ensemble_apply_each(module: nn.Module, params: Any, xs: jax.Array) -> jax.Array:
    """Member ``k`` applied to its own input ``xs[k]`` (e.g. its own bootstrap minibatch)."""
    return jax.vmap(module.apply)(params, xs)


def member(params: Any, k: int) -> Any:
    """The parameters of member ``k`` of an ensemble."""
    return jax.tree.map(lambda leaf: leaf[k], params)


def stack(members: Sequence[Any]) -> Any:
    """Separate networks' parameters stacked into one ensemble pytree."""
    return jax.tree.map(lambda *leaves: jnp.stack(leaves), *members)
