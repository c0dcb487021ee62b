"""``experiments.evaluate``: where each registered deep config's finished run is evaluated, the
drawings of every environment family that has one, and the command's one-line refusals.

The evaluations themselves run on the finished runs other tests make anyway
(``tests/run/evaluated.py``), so none of them pays for a training compile of its own; the gymnax
and Brax configs, whose agents those runs already cover on other environments, get a tiny run
each here, evaluated with a GIF.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrl import envs
from jaxrl.envs import rendering
from jaxrl.run import ConfigError
from tests.run.test_registered_experiments import REGISTERED, _tiny

# Registered deep config -> the test whose finished run of it experiments.evaluate scores.
EVALUATED = {
    "dqn_cartpole": "tests/agents/test_open_agents.py (dqn, on the discrete chain, with a GIF)",
    "actor_critic_cartpole": "tests/agents/test_open_agents.py (its five variants, both chains)",
    "ddpg_pendulum": "tests/agents/test_open_agents.py (ddpg and td3, on the continuous chain)",
    "sac_pendulum": "tests/agents/test_open_agents.py (sac, on the continuous chain)",
    "dqn_grid": "tests/agents/test_dqn.py (grid_readout: continuing grid, max_steps, a GIF)",
    "actor_critic_grid": "tests/agents/test_actor_critic.py (grid_readout)",
    "dpo_bandit": "tests/test_train_binary.py (its recorded held-out metrics)",
    "dpo_lm": "tests/agents/test_dpo.py (SFT and DPO: their recorded held-out metrics)",
    "reward_model_bandit": "tests/agents/test_reward_model.py (its recorded metrics)",
    "grpo_bandit": "tests/agents/test_bandit_rl.py (its recorded metrics)",
    "ppo_rlhf_bandit": "tests/agents/test_bandit_rl.py (its recorded metrics)",
}
# The gymnax and Brax configs: a tiny run of each is made and evaluated here
# (test_a_tiny_run_of_each_gymnax_and_brax_config_is_evaluated_with_a_gif).
ECOSYSTEM = {
    "dqn_acrobot",
    "dqn_minatar",
    "ppo_acrobot",
    "ppo_minatar",
    "ppo_brax",
    "sac_brax",
    "td3_brax",
}


def _deep(name) -> bool:
    config = _tiny(name)
    return config.experiment.startswith("jaxrl.agents.")


TINY_ECOSYSTEM_CONFIG = '''"""jaxrl/configs/{name}.py, tiny."""

from jaxrl.configs import {name}


def get_config():
    config = {name}.get_config()
    with config.unlocked():
        config.num_seeds, config.total_steps, config.chunk_steps = 2, 2, 2
        config.eval_episodes = 1
        config.env.max_steps = 20
    return config
'''


@pytest.mark.parametrize("name", sorted(ECOSYSTEM))
def test_a_tiny_run_of_each_gymnax_and_brax_config_is_evaluated_with_a_gif(tmp_path, name):
    """The config as registered, its environment included, with 2 seeds, 2 training steps in one
    chunk and one evaluation episode; its episodes limited to 20 steps, the in-run evaluation's
    and the command's (Brax's physics and gymnax's environments compile the same either way).
    The command scores every seed and draws seed 0's episode into a GIF: gymnax's Acrobot with
    our drawing of its state, MinAtar's image observation, Brax's bodies."""
    from tests.run import evaluated
    from tests.run.binary import train_in_process

    config_file = tmp_path / f"{name}_tiny.py"
    config_file.write_text(TINY_ECOSYSTEM_CONFIG.format(name=name))
    workdir = tmp_path / name
    train_in_process(f"--config={config_file}", f"--workdir={workdir}")
    results = evaluated.check(workdir, tmp_path, episodes=1, video=True, max_steps=20)
    assert results["returns"].shape == (1, 2, 1)


def test_every_registered_deep_config_is_evaluated_somewhere():
    deep = {name for name in REGISTERED if _deep(name)}
    assert deep == set(EVALUATED) | ECOSYSTEM


@pytest.mark.parametrize("name", ["grid", "cartpole", "pendulum", "gymnax:Acrobot-v1"])
def test_a_drawing_shows_the_state(name):
    """Two different states (every number of the start state plus one: another cell, the cart
    and the pole moved, the pendulum and the links turned) draw two different frames, and the
    same state the same frame. (gymnax's CartPole and Pendulum use the drawings of ours.)"""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    env = envs.make(name, {})
    assert env.draw is not None
    first = jax.device_get(env.reset(jax.random.key(0), env.params)[1])
    second = jax.tree.map(lambda x: np.asarray(x) + 1, first)

    def pixels(state):
        fig = Figure(figsize=(2, 2), dpi=50)
        canvas = FigureCanvasAgg(fig)
        env.draw(fig.add_subplot(), state, None)
        canvas.draw()
        return np.asarray(canvas.buffer_rgba()).copy()

    assert np.array_equal(pixels(first), pixels(first))
    assert not np.array_equal(pixels(first), pixels(second))


def test_a_brax_body_is_drawn_as_rods_through_each_links_centre_of_mass():
    """``rendering.bodies`` on a cart and a pole (Brax's inverted pendulum: the pole's centre of
    mass 0.3 up its own z axis), the pole turned by 0.4 rad about y: its rod runs from the hinge
    to twice its centre, ``(x + 0.6 sin 0.4, 0.6 cos 0.4)`` seen from the side, and the cart
    (centre at its origin) is a dot."""
    from matplotlib.figure import Figure

    angle = 0.4
    draw = rendering.bodies([-1, 0], [[0.0, 0.0, 0.0], [0.0, 0.0, 0.3]], lambda state: state)
    pos = np.array([[0.5, 0.0, 0.0], [0.5, 0.0, 0.0]])
    rot = np.array([[1.0, 0.0, 0.0, 0.0], [np.cos(angle / 2), 0.0, np.sin(angle / 2), 0.0]])
    ax = Figure().add_subplot()
    draw(ax, (pos, rot), None)
    rods = [np.column_stack(line.get_data()) for line in ax.lines if line.get_linewidth() == 5]
    np.testing.assert_allclose(rods[0], [[0.5, 0.0], [0.5, 0.0]])
    np.testing.assert_allclose(
        rods[1], [[0.5, 0.0], [0.5 + 0.6 * np.sin(angle), 0.6 * np.cos(angle)]], atol=1e-12
    )
    assert ax.get_ylabel() == "z"


def test_minatar_draws_its_image_observation_channel_by_channel():
    env = envs.make("gymnax:Breakout-MinAtar", {})
    obs, state = env.reset(jax.random.key(0), env.params)
    channels = obs.shape[-1]
    assert env.draw is not None and obs.ndim == 3
    from matplotlib.figure import Figure

    ax = Figure().add_subplot()
    env.draw(ax, jax.device_get(state), np.asarray(obs))
    (image,) = ax.get_images()
    layer = np.asarray(image.get_array())
    on = np.asarray(obs) > 0.5
    # each cell shows the highest channel that is on, 0 where none is
    expected = np.where(on.any(-1), channels - np.argmax(on[..., ::-1], axis=-1), 0)
    np.testing.assert_array_equal(layer, expected)


def test_an_episode_is_drawn_frame_by_frame_into_a_gif(tmp_path):
    """The rollout stops at the episode's end (the grid's time limit of 4 steps: 5 frames), and
    its rewards are the environment's."""
    from PIL import Image

    env = envs.make("grid", {"max_steps": 4})
    episode = rendering.rollout(
        env, lambda obs, key: np.zeros(obs.shape[:1], np.int32), jax.random.key(0), max_steps=9
    )
    assert episode.length == 4 and episode.rewards.shape == (4,)
    frames = rendering.write_gif(env.draw, episode, str(tmp_path / "grid.gif"), fps=10)
    with Image.open(tmp_path / "grid.gif") as image:
        assert frames == image.n_frames == 5


def test_scores_are_per_setting_and_seed_with_keys_of_their_own():
    """``scoring.episode_returns`` on CartPole with a policy read from the carry (push toward
    the pole's lean, or the other way for a negative gain): every (setting, seed) equals
    ``evaluation.episode_returns`` run alone with the key ``fold_in(fold_in(key, h), j)`` (a
    seed scored alone through the command: ``tests/run/evaluated.py``)."""
    from jaxrl import run
    from jaxrl.envs import evaluation
    from jaxrl.run import scoring

    env = envs.make("cartpole", {"max_steps": 50})

    def policy(carry, hparams, mode):
        return lambda obs, key: (carry * obs[..., 2] * hparams.sign > 0).astype(jnp.int32)

    class Hparams(NamedTuple):
        sign: jax.Array

    experiment = run.Experiment(
        init=None,
        train_chunk=None,
        hparams_type=Hparams,
        domains={"sign": run.real()},
        metrics=("x",),
        main_metric="x",
        policy=policy,
    )
    carry = np.asarray([[1.0, -1.0, 2.0]], np.float32)  # [settings=1, seeds=3]
    settings = run.make_settings(experiment, {"sign": 1.0}, {})
    loaded = run.Loaded(carry, 1, None, experiment, settings)
    key = jax.random.key(7)
    scores = scoring.episode_returns(loaded, env, episodes=4, key=key)
    assert scores.shape == (1, 3, 4)

    @jax.jit
    def alone(gain, key):
        act = policy(gain, Hparams(jnp.float32(1.0)), "greedy")
        return evaluation.episode_returns(
            env.reset, env.step, env.params, act, key, episodes=4, max_steps=50
        )

    for j in range(3):
        key_j = jax.random.fold_in(jax.random.fold_in(key, 0), j)
        np.testing.assert_array_equal(scores[0, j], alone(carry[0, j], key_j))
    assert scores[0, 0].mean() > scores[0, 1].mean()  # pushing toward the lean balances longer
    with pytest.raises(ConfigError, match=r"seed must be in \[0, 3\)"):
        scoring.episode_returns(loaded, env, episodes=4, key=key, seeds=[3])
    with pytest.raises(ConfigError, match="continuing task"):
        scoring.episode_returns(loaded, env._replace(max_steps=None), episodes=1, key=key)


def test_bad_requests_are_one_line(tmp_path):
    from jaxrl.run import scoring

    with pytest.raises(ConfigError, match="holds no run"):
        scoring.evaluate(str(tmp_path))
    no_drawing = envs.make("cartpole", {})._replace(draw=None)
    with pytest.raises(ConfigError, match="cartpole has no drawing"):
        scoring.write_video(None, no_drawing, str(tmp_path / "x.gif"), 0, 0, "greedy", 0, None)
    with pytest.raises(ConfigError, match="does not exist"):
        scoring.write_video(None, envs.make("cartpole", {}), "/no/such/x.gif", 0, 0, "greedy", 0, 5)
