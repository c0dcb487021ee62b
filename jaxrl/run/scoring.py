"""Scoring a run's trained policies afresh: every (setting, seed) of a run read back with
:func:`jaxrl.run.load`, over new episodes of the run's own environment, in one compiled program.

``python -m experiments.evaluate`` is the command built on :func:`evaluate`; a fork's own
evaluation can call the parts the same way::

    loaded = run.load(workdir)
    env = scoring.environment(loaded.config)
    returns = scoring.episode_returns(loaded, env, episodes=100, key=jax.random.key(0))

An experiment without an environment (the preference experiments) has no episodes to score: its
held-out metrics are those it recorded at the chunk the checkpoint holds
(:func:`recorded_metrics`).
"""

from __future__ import annotations

import os

import jax
import numpy as np

from jaxrl.run import workdir as workdir_files
from jaxrl.run.experiment import ConfigError
from jaxrl.run.results import windows_of


def environment(config):
    """The environment a deep agent's config names (``config.environment`` and its options
    ``config.env``), made as the agent makes it; ``None`` for a config that names none."""
    if "environment" not in config:
        return None
    from jaxrl import envs

    try:
        return envs.make(config.environment, config.env)
    except ValueError as e:  # an extra that is missing here, a fork's factory not importable
        raise ConfigError(str(e)) from None


def episode_keys(key: jax.Array, settings, seeds) -> jax.Array:
    """The evaluation key of each (setting, seed): ``fold_in(fold_in(key, setting), seed)``, so
    a seed's episodes do not depend on which other settings and seeds are scored beside it."""
    settings, seeds = np.asarray(settings, np.int32), np.asarray(seeds, np.int32)
    per_setting = jax.vmap(lambda s: jax.random.fold_in(key, s))(settings)
    return jax.vmap(lambda k: jax.vmap(lambda j: jax.random.fold_in(k, j))(seeds))(per_setting)


def episode_returns(
    loaded,
    env,
    *,
    episodes: int,
    key: jax.Array,
    mode: str = "greedy",
    settings=None,
    seeds=None,
    max_steps: int | None = None,
) -> np.ndarray:
    """The undiscounted returns ``[settings, seeds, episodes]`` of the trained policies of
    ``loaded`` (:func:`jaxrl.run.load`) on ``env``, each over ``episodes`` fresh episodes
    (:func:`jaxrl.envs.evaluation.episode_returns`, keys from :func:`episode_keys`), all of
    them in one jitted, vmapped program.

    Args:
        mode: the readout policy's mode, ``"greedy"`` or ``"sample"``.
        settings, seeds: the indices to score (default: all).
        max_steps: steps per episode (default: the environment's time limit; a continuing task
            needs one).
    """
    from jaxrl.envs import evaluation
    from jaxrl.run import readout

    experiment = loaded.experiment
    if experiment.policy is None:
        raise ConfigError("this experiment exposes no policy to score (its Experiment has none)")
    if mode not in readout.POLICY_MODES:
        raise ConfigError(f"mode must be one of {readout.POLICY_MODES}, got {mode!r}")
    num_settings, num_seeds = np.shape(jax.tree.leaves(loaded.carry)[0])[:2]
    settings = list(range(num_settings)) if settings is None else list(settings)
    seeds = list(range(num_seeds)) if seeds is None else list(seeds)
    for name, chosen, size in (("setting", settings, num_settings), ("seed", seeds, num_seeds)):
        for value in chosen:
            if not 0 <= value < size:
                raise ConfigError(f"{name} must be in [0, {size}), got {value}")
    steps = env.max_steps if max_steps is None else max_steps
    if steps is None:
        raise ConfigError(
            f"{env.name} is a continuing task (no time limit): give max_steps, the steps of "
            "an episode"
        )
    carry = jax.tree.map(lambda leaf: leaf[np.ix_(settings, seeds)], loaded.carry)
    hparams = jax.tree.map(lambda leaf: np.asarray(leaf)[settings], loaded.settings.hparams)

    def one(carry, hparams, key):
        act = experiment.policy(carry, hparams, mode)
        return evaluation.episode_returns(
            env.reset, env.step, env.params, act, key, episodes=episodes, max_steps=steps
        )

    program = jax.jit(jax.vmap(jax.vmap(one, in_axes=(0, None, 0))))
    return np.asarray(program(carry, hparams, episode_keys(key, settings, seeds)))


def recorded_metrics(workdir: str, loaded) -> dict[str, np.ndarray]:
    """The metrics ``[settings, seeds]`` the run recorded at the chunk its checkpoint holds
    (``loaded.chunks_done``): for an experiment without episodes, its own held-out measures of
    the policy in that checkpoint."""
    path = workdir_files.chunk_path(workdir, loaded.chunks_done - 1)
    try:
        with np.load(path) as data:
            arrays = {name: np.asarray(data[name]) for name in loaded.experiment.metrics}
            return windows_of(arrays)[-1]  # the chunk's last recorded window
    except (OSError, ValueError, KeyError) as e:
        raise ConfigError(f"cannot read the recorded metrics in {path}: {e}") from None


def _stats(values: np.ndarray) -> str:
    values = np.asarray(values, np.float64)
    return f"{values.mean():10.3f} {values.std():9.3f} {values.min():10.3f} {values.max():10.3f}"


def evaluate(
    workdir: str,
    *,
    episodes: int = 100,
    setting: int | None = None,
    seed: int | None = None,
    mode: str = "greedy",
    eval_seed: int = 0,
    max_steps: int | None = None,
    video: str | None = None,
) -> tuple[list[str], dict]:
    """What the command does, in-process: ``(lines of the table, results)``. ``results`` holds
    ``returns`` (``[settings, seeds, episodes]``, those scored) or, for a run without an
    environment, ``metrics`` (``{name: [settings, seeds]}``), and ``frames`` if a video was
    written. Raises ``ConfigError`` (one line) for what the user can fix."""
    from jaxrl import run

    if not has_run(workdir):
        raise ConfigError(f"workdir {workdir!r} holds no run (no config.json)")
    loaded = run.load(workdir)
    env = environment(loaded.config)
    num_settings, num_seeds = np.shape(jax.tree.leaves(loaded.carry)[0])[:2]
    for name, value, size in (("setting", setting, num_settings), ("seed", seed, num_seeds)):
        if value is not None and not 0 <= value < size:
            raise ConfigError(f"{name} must be in [0, {size}) for this run, got {value}")
    settings = range(num_settings) if setting is None else [setting]
    seeds = range(num_seeds) if seed is None else [seed]
    labels = loaded.settings.labels
    where = f"{workdir}: {loaded.config.experiment}, checkpoint at chunk {loaded.chunks_done}"
    lines, results = [], {}
    if env is None:
        if video:
            raise ConfigError("video: this run has no environment to draw (it has no episodes)")
        metrics = recorded_metrics(workdir, loaded)
        names = list(loaded.experiment.metrics)
        lines.append(f"{where}; no environment: the metrics it recorded there, per seed")
        lines.append("setting  seed  " + "  ".join(f"{n:>14}" for n in names) + "  label")
        for h in settings:
            for j in seeds:
                row = "  ".join(f"{metrics[n][h, j]:14.6g}" for n in names)
                lines.append(f"{h:7d} {j:5d}  {row}  {labels[h]}")
        results["metrics"] = {n: metrics[n][np.ix_(list(settings), list(seeds))] for n in names}
    else:
        returns = episode_returns(
            loaded,
            env,
            episodes=episodes,
            key=jax.random.key(eval_seed),
            mode=mode,
            settings=settings,
            seeds=seeds,
            max_steps=max_steps,
        )
        lines.append(f"{where}; {env.name}, {mode} policy, {episodes} episodes per seed")
        lines.append(f"setting  seed {'mean':>10} {'std':>9} {'min':>10} {'max':>10}  label")
        for i, h in enumerate(settings):
            for k, j in enumerate(seeds):
                lines.append(f"{h:7d} {j:5d} {_stats(returns[i, k])}  {labels[h]}")
        for i, h in enumerate(settings):
            means = returns[i].mean(axis=-1)
            lines.append(
                f"setting {h} ({labels[h]}): median over {len(means)} seed(s) "
                f"{np.median(means):.3f}, minimum {means.min():.3f}"
            )
        results["returns"] = returns
    if video:
        results["frames"] = write_video(
            loaded, env, video, setting or 0, seed or 0, mode, eval_seed, max_steps
        )
        lines.append(f"wrote {video} ({results['frames']} frames)")
    return lines, results


def write_video(loaded, env, path, setting, seed, mode, eval_seed, max_steps) -> int:
    from jaxrl.envs import rendering

    if env.draw is None:
        raise ConfigError(f"video: {env.name} has no drawing (Environment.draw is None)")
    steps = env.max_steps if max_steps is None else max_steps
    if steps is None:
        raise ConfigError(f"video: {env.name} is a continuing task: give max_steps")
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise ConfigError(f"video: the directory {directory} does not exist")
    act = loaded.policy(setting=setting, seed=seed, mode=mode)
    episode = rendering.rollout(env, act, jax.random.key(eval_seed), max_steps=steps)
    title = f"{env.name} setting {setting} seed {seed}"
    return rendering.write_gif(env.draw, episode, path, title=title)


def has_run(workdir: str) -> bool:
    """Whether ``workdir`` holds a run (its ``config.json``)."""
    return os.path.exists(os.path.join(workdir, workdir_files.CONFIG_FILE))
