"""Every experiment config of ``jaxrl/configs``: no LAPACK call in what the runner compiles, and
out-of-domain hyperparameters refused before anything is traced."""

import glob
import importlib
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrl import run
from jaxrl.run.experiment import seed_keys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _registered() -> list[str]:
    names = []
    for path in sorted(glob.glob(os.path.join(ROOT, "jaxrl", "configs", "*.py"))):
        name = os.path.basename(path)[:-3]
        if name.startswith("_"):
            continue
        module = importlib.import_module(f"jaxrl.configs.{name}")
        if hasattr(module, "get_config") and "experiment" in module.get_config():
            names.append(name)
    return names


REGISTERED = _registered()


def _tiny(name, **overrides):
    config = importlib.import_module(f"jaxrl.configs.{name}").get_config()
    with config.unlocked():
        config.num_seeds = 1
        config.chunk_steps = 2
        config.total_steps = 2
        for key, value in overrides.items():
            config[key] = value
    return config


def test_every_tabular_config_is_registered():
    assert set(REGISTERED) >= {
        "q_learning",
        "q_learning_off_policy",
        "q_learning_path_finding",
        "double_q_learning",
        "sarsa",
        "expected_sarsa",
        "n_step_sarsa",
        "sarsa_path_finding",
        "td0",
        "mc_basic",
        "mc_exploring_starts",
        "mc_epsilon_greedy",
        "mean_estimation",
    }


def _lapack_calls(experiment, config) -> set[str]:
    """The LAPACK calls (``core.lapack_calls``: custom calls such as ``lapack_sgetrf_ffi``) of the
    runner's two programs for this experiment, ``jit(vmap(init))`` and
    ``jit(vmap(train_chunk))``, as JAX lowers them (a LAPACK call is a custom call from the
    lowering on: no need to pay for XLA's compilation)."""
    from jaxrl.run import core

    settings = run.settings_from_config(experiment, config)
    key_data, flat, wrap = core.batch_inputs(settings.hparams, seed_keys(0, 1))
    init = jax.vmap(wrap(experiment.init))
    carry = jax.eval_shape(init, key_data, flat)
    lowered = jax.jit(init).lower(key_data, flat)
    chunk = jax.jit(jax.vmap(experiment.train_chunk)).lower(carry, flat)
    return core.lapack_calls(lowered) | core.lapack_calls(chunk)


def test_the_lapack_check_can_fail():
    """The detector sees a LAPACK solve when there is one (a positive control)."""
    from tests.run.toy import toy_config, toy_experiment

    experiment = toy_experiment(1)

    def init(key, hparams):
        carry = experiment.init(key, hparams)
        a = jnp.eye(3) * (2.0 + hparams.scale)
        return {**carry, "x": jnp.linalg.solve(a, jnp.ones(3))[0]}

    assert _lapack_calls(experiment._replace(init=init), toy_config())


BRAX_CHECKED = "sac_brax"  # the one Brax config of the LAPACK check (see its docstring)


@pytest.mark.parametrize(
    "name", [n for n in REGISTERED if not n.endswith("_brax") or n == BRAX_CHECKED]
)
def test_no_lapack_call_in_the_compiled_programs(name):
    """jitted LAPACK-backed ops sharded over several CPU host devices can deadlock (jax 0.10.2),
    so nothing of ours that the runner compiles may call LAPACK: policy evaluation uses
    ``dp.evaluate_policy_bounded`` (matrix-vector products) instead of a solve. Brax's
    generalized pipeline (the Brax configs') solves with a Cholesky, a call of Brax's own that
    makes the runner fall back to one CPU device (``tests/run/test_launcher.py``). The adapter is
    checked on Brax's spring pipeline, which has none, in one Brax config: the agents of the
    others are checked on their own configs (what an agent compiles does not depend on the
    environment's family, and Brax's lowering is the slowest of all, about 4 s a config)."""
    config = _tiny(name)
    if config.get("environment", "").startswith("brax:"):
        with config.unlocked():
            config.env.backend = "spring"
    experiment = importlib.import_module(config.experiment).make_experiment(config)
    assert not _lapack_calls(experiment, config)


# One out-of-domain value per hyperparameter of each experiment module.
BAD_VALUES = {
    "gamma": (1.0, ("a real number in [0, 0.999]", "a real number in [0, 1)")),
    "epsilon": (1.5, "a real number in [0, 1]"),
    "learning_rate": (0.0, "a real number > 0"),
    "episode_length": (0, "an integer >= 1"),
    "scale": (-1.0, "a real number > 0"),
    "power": (1.5, "a real number in [0, 1]"),
    "step_power": (1.5, "a real number in [0, 1]"),
    "decay_steps": (0.0, "a real number > 0"),
    "target_period": (0, "an integer >= 1"),
    "tau": (0.0, "a real number in (0, 1]"),
    "pessimism": (-1.0, "a real number >= 0"),
    # adamw only: the DQN configs use adam, the SFT config adamw
    "weight_decay": (-1.0, ("a real number in [0, 0]", "a real number >= 0")),
    "actor_lr": (0.0, "a real number > 0"),
    "critic_lr": (0.0, "a real number > 0"),
    "alpha_lr": (0.0, "a real number > 0"),
    "init_alpha": (0.0, "a real number > 0"),
    "gae_lambda": (1.5, ("a real number in [0, 1]", "a real number in [1, 1]")),  # ppo_rlhf: 1
    "entropy_coef": (-1.0, "a real number >= 0"),
    "clip_epsilon": (1.5, "a real number in (0, 1]"),  # ppo
    "noise_scale": (-1.0, "a real number >= 0"),
    "policy_delay": (0, "an integer >= 1"),
    "target_noise": (-1.0, "a real number >= 0"),
    "target_noise_clip": (-1.0, "a real number >= 0"),
    "beta": (0.0, "a real number > 0"),
    "label_smoothing": (0.5, "a real number in [0, 0.5)"),
    "load_balancing_coef": (-1.0, ("a real number >= 0", "a real number in [0, 0]")),
    "margin": (-1.0, "a real number >= 0"),  # reward model
    "value_coef": (-1.0, "a real number >= 0"),  # ppo_rlhf
}


def _cases():
    """One case per hyperparameter of each experiment module, on the first registered config of
    that module (the domains are the module's: its other configs share them), our own
    environments' configs first (gymnax's and Brax's import slowly)."""
    cases, seen = [], set()
    configs = [(name, _tiny(name)) for name in REGISTERED]
    configs.sort(key=lambda item: ":" in str(item[1].get("environment", "")))  # stable
    for name, config in configs:
        for field in config.hparams:
            if (config.experiment, field) not in seen:
                seen.add((config.experiment, field))
                cases.append((name, field))
    return cases


@pytest.mark.parametrize("name, field", _cases())
def test_out_of_domain_hyperparameters_are_refused_before_tracing(tmp_path, name, field):
    value, domain = BAD_VALUES[field]
    config = _tiny(name)
    with config.unlocked():
        config.hparams[field] = type(config.hparams[field])(value)
        if field in config.sweep:  # also as the last entry of the sweep
            values = list(config.sweep[field])
            values[-1] = type(values[-1])(value)
            config.sweep[field] = tuple(values)
    experiment = importlib.import_module(config.experiment).make_experiment(config)
    traces = []

    def counted(fn):
        def wrapper(*args):
            traces.append(fn)
            return fn(*args)

        return wrapper

    experiment = experiment._replace(
        init=counted(experiment.init), train_chunk=counted(experiment.train_chunk)
    )
    source = "sweep" if field in config.sweep else "hparams"
    with pytest.raises(ValueError, match=rf"{source}\.{field} = .*outside its domain") as error:
        run.run(experiment, config, str(tmp_path), log=lambda _: None)
    domains = (domain,) if isinstance(domain, str) else domain
    assert any(d in str(error.value) for d in domains), str(error.value)
    assert traces == []  # nothing traced, so nothing compiled
    assert not (tmp_path / "config.json").exists()


def test_an_integer_hyperparameter_stays_an_integer():
    config = _tiny("mc_basic")
    experiment = importlib.import_module(config.experiment).make_experiment(config)
    settings = run.settings_from_config(experiment, config)
    assert settings.hparams.episode_length.dtype == jnp.int32
    np.testing.assert_array_equal(settings.hparams.episode_length, [1, 2, 3, 4, 14, 15, 30, 100])
    with config.unlocked():
        config.sweep.episode_length = (3, 4.5)
    with pytest.raises(ValueError, match="sweep.episode_length must be an integer, got 4.5"):
        run.settings_from_config(experiment, config)


@pytest.mark.parametrize("name", REGISTERED)
def test_config_fields_are_exact(name):
    """A field the algorithm does not read is refused, and so is a missing one: e.g. a
    behaviour given to Sarsa used to be ignored without a word."""
    module = importlib.import_module(_tiny(name).experiment)
    config = _tiny(name)
    with config.unlocked():
        config.behaviour_policy = "uniform"
    with pytest.raises(ValueError, match=r"config.behaviour_policy is not a field of jaxrl"):
        module.make_experiment(config)
    config = _tiny(name)
    read = next(f for f in ("env", "true_mean", "max_episode_steps", "task") if f in config)
    with config.unlocked():
        del config[read]
    with pytest.raises(ValueError, match=rf"config lacks the field '{read}'"):
        module.make_experiment(config)


def test_a_behaviour_given_to_sarsa_is_refused():
    from jaxrl.tabular import sarsa

    config = _tiny("sarsa")
    with config.unlocked():
        config.behaviour = "uniform"
    with pytest.raises(ValueError, match="config.behaviour is not a field of jaxrl.tabular.sarsa"):
        sarsa.make_experiment(config)


@pytest.mark.parametrize("name", REGISTERED)
def test_every_field_is_declared_once_in_the_experiments_schema(name):
    """Each config's experiment takes its ``Hparams`` and domains from one ``fields.Schema``
    (a config may only narrow a domain, e.g. weight decay pinned to 0 without adamw), every
    top-level field of the config is declared there (or is the runner's), and a static value of
    the wrong kind (None) is refused in one line naming the field, before anything is built."""
    from jaxrl.run import fields

    config = _tiny(name)
    module = importlib.import_module(config.experiment)
    try:
        experiment = module.make_experiment(config)
    except run.ConfigError as error:  # the LM's DPO needs a finished SFT run
        assert "sft_workdir" in str(error)
        experiment = None
    schema = module.SCHEMA if experiment is None else experiment.hparams_type.schema
    assert isinstance(schema, fields.Schema)
    if experiment is not None:
        assert tuple(experiment.domains) == schema.swept_names
        for field, domain in experiment.domains.items():
            declared = schema.fields[field].kind
            assert declared.integer == domain.integer
            assert declared.low <= domain.low and domain.high <= declared.high, field
    static = set(config.keys()) - fields.RUNNER_FIELDS - fields.OPTIONAL_RUNNER_FIELDS
    assert static <= {n for n, f in schema.fields.items() if not f.swept}
    for field in sorted(static):
        bad = _tiny(name)
        with bad.unlocked():
            bad[field] = None
        with pytest.raises(ValueError, match=rf"^config\.{field}\b") as error:
            module.make_experiment(bad)
        assert "\n" not in str(error.value)


# Schedules: a decay lasts the run it is in (jaxrl.optim.over_the_run).


def test_no_config_computes_its_schedule_from_its_own_total_steps():
    """Every registered config whose learning rate decays decays over the whole run
    (``decay_steps = 0``, which the agent fills in from the run's own ``total_steps``), never over
    a count worked out in the config from its default ``total_steps``: with one,
    ``--config.total_steps=N`` kept the old horizon, and an extended run trained at rate 0."""
    decaying = []
    for name in REGISTERED:
        config = importlib.import_module(f"jaxrl.configs.{name}").get_config()
        if "optimizer" in config and config.optimizer.schedule != "constant":
            decaying.append(name)
            assert config.optimizer.decay_steps == 0, name
    assert {"dqn_grid", "ppo_acrobot", "actor_critic_cartpole"} <= set(decaying)


def _updates(config) -> int:
    """The optimizer updates of a run, by hand: on-policy, ``epochs * num_minibatches`` per
    training step; off-policy, ``updates_per_step`` on every step once the buffer holds
    ``learning_starts`` transitions (``num_envs`` stored per step, then the update); SFT and
    DPO, one per step."""
    if "epochs" in config:
        return config.total_steps * config.epochs * config.num_minibatches
    if "learning_starts" in config:
        waiting = -(-config.learning_starts // config.num_envs) - 1  # steps without an update
        return (config.total_steps - waiting) * config.updates_per_step
    return config.total_steps


@pytest.mark.parametrize(
    "name",
    ["actor_critic_cartpole", "dqn_grid", "ddpg_pendulum", "sac_pendulum", "dpo_lm", "dpo_bandit"],
)
def test_a_decay_over_the_run_ends_with_the_run(monkeypatch, name):
    """With ``decay_steps = 0`` every optimizer the agent builds decays over the updates of
    this run (after the warm-up), whatever ``total_steps`` the command line gives it, and the
    experiment declares that its schedule depends on ``total_steps`` (the runner then refuses
    to extend it: ``tests/run/test_runner.py``). The agent's ``init`` is traced, not compiled."""
    from jaxrl import optim
    from jaxrl.run import core

    config = _tiny(name, total_steps=400, chunk_steps=200)
    with config.unlocked():
        config.optimizer.schedule, config.optimizer.decay_steps = "linear", 0
        config.optimizer.warmup_steps = 10
        if "learning_starts" in config:
            config.learning_starts = 50
            config.num_envs = 4
    blocks, build = [], optim.make_optimizer
    monkeypatch.setattr(
        optim, "make_optimizer", lambda b, **k: (blocks.append(b), build(b, **k))[1]
    )
    module = importlib.import_module(config.experiment)
    experiment = module.make_experiment(config)
    assert experiment.depends_on_total_steps
    settings = run.settings_from_config(experiment, config)
    key_data, flat, wrap = core.batch_inputs(settings.hparams, seed_keys(0, 1))
    jax.eval_shape(jax.vmap(wrap(experiment.init)), key_data, flat)
    assert blocks and {b["decay_steps"] for b in blocks} == {_updates(config) - 10}, name
    with config.unlocked():  # a fixed count is the config's own: no dependence on the run
        config.optimizer.decay_steps = 7
    assert not module.make_experiment(config).depends_on_total_steps
