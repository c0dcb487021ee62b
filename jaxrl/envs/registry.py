"""The environment protocol and the registry that maps names to environments.

An :class:`Environment` is what every agent sees: the pure pair of the environment API
(gymnax-compatible),

* ``reset(key, params) -> (obs, state)``,
* ``step(key, state, action, params) -> (obs, state, reward, terminated, truncated, info)``, with
  ``terminated`` and ``truncated`` kept apart and ``info["final_observation"]`` the observation
  the step reached (see ``jaxrl.envs.wrappers``),

plus its default ``params``, its observation and action spaces (``jaxrl.envs.spaces``), its time
limit, and two optional hooks: a cheaper auto-reset of its own, and :class:`Finite`, the exact
description of a finite MDP (from which ``jaxrl.exact`` computes v*, and agents their exact
metrics). An agent reads shapes from the spaces and never names a concrete environment.

The registry maps a name to a factory ``(**options) -> Environment``; a config names the
environment (``config.environment``) and its options (``config.env``). Built in: ``"grid"``
(the book's grid world), ``"cartpole"`` (CartPole-v1) and ``"pendulum"`` (Pendulum-v1). A fork
registers its own from its own package::

    from jaxrl import envs
    envs.register("chain", make_chain)     # at import time of the fork's module

or names the factory by import path, which needs no registration and survives ``run.load`` in
a fresh process: ``config.environment = "my_package.envs:make_chain"``. gymnax's environments
come by name with the prefix ``gymnax:`` (``"gymnax:Acrobot-v1"``; ``jaxrl.envs.gymnax_envs``)
and Brax's with ``brax:`` (``"brax:inverted_pendulum"``; ``jaxrl.envs.brax_envs``), both optional
dependencies.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from typing import Any, NamedTuple

import jax

from jaxrl.envs import spaces, wrappers
from jaxrl.run import fields

# The environment fields of a deep agent's config, which both scaffolds extend with their own.
SCHEMA = fields.Schema(
    "jaxrl.envs",
    environment=fields.static(fields.TEXT, "a registered environment, or 'pkg.module:factory'"),
    env=fields.static(fields.ANY_BLOCK, "the environment's options (its factory checks them)"),
    eval_episodes=fields.static(fields.POSITIVE_INT, "greedy episodes scored after every chunk"),
    num_envs=fields.static(fields.POSITIVE_INT, "environments per seed, stepped together"),
)


class Finite(NamedTuple):
    """A finite MDP's exact description: the optional ground-truth hook of an environment.

    Attributes:
        mdp: the MDP that ``jaxrl.dp`` solves (a ``dp.FiniteMDP`` or a structured one such as
            ``gridworld.GridMDP``), whose state ``s`` is the environment's state ``s``.
        observations: ``[S, ...]`` the observation of each state, in the environment's form (what
            an agent's network is applied to).
    """

    mdp: Any
    observations: jax.Array


class Environment(NamedTuple):
    """An environment as every agent sees it.

    Attributes:
        name: the registry name it was made under.
        reset, step: the environment API (module docstring), for one environment (vmap for
            many).
        params: its parameters; ``step`` does not restart finished episodes with them.
        observation_space, action_space: :class:`~jaxrl.envs.spaces.Discrete` or
            :class:`~jaxrl.envs.spaces.Box`.
        max_steps: the time limit of an episode (its truncation), or ``None`` for a continuing
            task, which has no episodes to score.
        auto_reset: optional ``params -> params`` whose ``step`` restarts episodes itself
            (cheaper than ``wrappers.auto_reset``); ``None``: the wrapper is used.
        finite: optional :class:`Finite`, for a finite MDP: exact metrics become possible.
        draw: optional ``(ax, state, obs) -> None``, drawing one step (NumPy leaves) on a
            matplotlib ``Axes``: what ``experiments.evaluate --video`` renders with
            (:mod:`jaxrl.envs.rendering`); ``None``: the environment cannot be rendered.
    """

    name: str
    reset: Callable
    step: Callable
    params: Any
    observation_space: spaces.Space
    action_space: spaces.Space
    max_steps: int | None
    auto_reset: Callable[[Any], Any] | None = None
    finite: Finite | None = None
    draw: Callable | None = None


_FACTORIES: dict[str, Callable[..., Environment]] = {}
# The built-in environments, imported on first use.
_BUILTIN = {
    "grid": "jaxrl.envs.gridworld:environment",
    "cartpole": "jaxrl.envs.cartpole:environment",
    "pendulum": "jaxrl.envs.pendulum:environment",
}
# Other libraries' environments by name, "PREFIX:NAME": the module whose factory(NAME) makes one.
_FAMILIES = {"gymnax:": "jaxrl.envs.gymnax_envs", "brax:": "jaxrl.envs.brax_envs"}


def register(name: str, factory: Callable[..., Environment]) -> None:
    """Registers ``factory(**options) -> Environment`` under ``name`` (replacing any earlier one
    of that name: a module re-imported registers again)."""
    if not isinstance(name, str) or not name or ":" in name:
        raise ValueError(
            f"an environment name must be a non-empty string without ':', got {name!r}"
        )
    if not callable(factory):
        raise ValueError(f"the factory of environment {name!r} must be callable, got {factory!r}")
    _FACTORIES[name] = factory


def names() -> tuple[str, ...]:
    """The registered names (the built-in ones included)."""
    return tuple(sorted({*_BUILTIN, *_FACTORIES}))


def _import_factory(path: str, where: str) -> Callable[..., Environment]:
    module_name, _, attr = path.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as e:
        parents = {".".join(module_name.split(".")[: i + 1]) for i in range(module_name.count("."))}
        if e.name not in parents | {module_name}:
            raise  # the module exists but imports something missing: a bug, with its traceback
        raise ValueError(f"{where}: cannot import {module_name!r} ({e})") from None
    factory = getattr(module, attr, None)
    if not callable(factory):
        raise ValueError(f"{where}: module {module_name!r} has no environment factory {attr!r}")
    return factory


def factory(name: str, *, where: str = "environment") -> Callable[..., Environment]:
    """The factory registered under ``name``, or named by an import path ``"module:attr"``."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"{where} must be an environment name, got {name!r}")
    if name in _FACTORIES:
        return _FACTORIES[name]
    if name in _BUILTIN:
        return _import_factory(_BUILTIN[name], where)
    prefix = name.partition(":")[0] + ":"
    if prefix in _FAMILIES:  # another library's environment by name: its module makes it
        return importlib.import_module(_FAMILIES[prefix]).factory(name[len(prefix) :])
    if ":" in name:
        return _import_factory(name, where)
    raise ValueError(
        f"{where} must be a registered environment ({', '.join(names())}) or an import path "
        f"'module:factory', got {name!r}"
    )


def make(name: str, options=None, *, where: str = "config") -> Environment:
    """The environment ``name`` made with ``options`` (a mapping, e.g. a config's ``env`` block).

    An option the factory does not take is refused in one line naming it (``where.env.X``),
    before anything is built; a factory's own ``ValueError`` passes through.
    """
    make_env = factory(name, where=f"{where}.environment")
    options = {} if options is None else dict(options.items())
    parameters = inspect.signature(make_env).parameters
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())
    if not takes_any:
        allowed = [
            k for k, p in parameters.items() if p.kind is not inspect.Parameter.VAR_POSITIONAL
        ]
        for key in options:
            if key not in allowed:
                raise ValueError(
                    f"{where}.env.{key} is not an option of environment {name!r}, which takes: "
                    f"{', '.join(allowed) or 'none'}"
                )
        required = [
            k
            for k, p in parameters.items()
            if p.default is inspect.Parameter.empty
            and p.kind in (inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
        ]
        for key in required:
            if key not in options:
                raise ValueError(f"{where}.env lacks the option {key!r} of environment {name!r}")
    try:
        env = make_env(**options)
    except ValueError as e:  # the factory's own check of an option's value
        raise ValueError(f"{where}.env ({name}): {e}") from None
    if not isinstance(env, Environment):
        raise ValueError(
            f"{where}.environment: the factory of {name!r} returned {type(env).__name__}, "
            f"not a jaxrl.envs.Environment"
        )
    return env._replace(name=name)


def training(env: Environment) -> tuple[Callable, Callable, Any]:
    """``(reset, step, params)`` for training: episodes restart inside ``step`` (the
    environment's own auto-reset if it has one, else ``wrappers.auto_reset``) and
    ``wrappers.episode_statistics`` tracks the returns of finished episodes."""
    reset, step, params = env.reset, env.step, env.params
    if env.auto_reset is not None:
        params = env.auto_reset(params)
    else:
        reset, step = wrappers.auto_reset(reset, step)
    reset, step = wrappers.episode_statistics(reset, step)
    return reset, step, params
