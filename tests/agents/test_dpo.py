"""DPO: the preference bandit against its closed-form optimum (exact expected loss and 50,000
sampled pairs), a vmapped beta sweep against separate runs, and the language-model pipelines on
a tiny transformer: an SFT run, then DPO from its parameters; and the same SFT run, then a
reward model on DPO's pairs, then PPO-RLHF on that reward model."""

import importlib
import json
import math
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrl import run
from jaxrl.agents import dpo, preference_bandit
from jaxrl.envs import preferences
from jaxrl.run.experiment import seed_keys
from tests.run import evaluated

BETAS = (0.1, 0.3, 1.0, 3.0)


def _config(name, variant=None, **overrides):
    module = importlib.import_module(f"jaxrl.configs.{name}")
    config = module.get_config(variant) if variant else module.get_config()
    with config.unlocked():
        for key, value in overrides.items():
            config[key] = value
    return config


def _train(config, num_seeds, num_chunks):
    experiment = dpo.make_experiment(config) if config.experiment == dpo.MODULE else None
    settings = run.settings_from_config(experiment, config)
    return run.train(experiment, settings.hparams, seed_keys(0, num_seeds), num_chunks=num_chunks)


def _bandit():
    return preferences.make_bandit(jax.random.key(0), contexts=3, responses=6, reference_scale=0.25)


def test_the_pairs_probabilities_by_brute_force_and_by_sampling():
    bandit = _bandit()
    cells = preferences.bandit_pairs(bandit)
    pi = np.exp(np.asarray(bandit.reference_logits, np.float64))
    r = np.asarray(bandit.reward, np.float64)
    expected = {}
    for x in range(3):
        for a in range(6):
            for b in range(6):
                if a != b:  # draw (a, b) or (b, a), then a is preferred
                    drawn = pi[x, a] * pi[x, b] / (1 - pi[x, a]) + pi[x, b] * pi[x, a] / (
                        1 - pi[x, b]
                    )
                    expected[x, a, b] = drawn / (1 + math.exp(r[x, b] - r[x, a])) / 3
    columns = [np.asarray(c) for c in cells]
    got = {(int(x), int(a), int(b)): float(w) for x, a, b, w in zip(*columns, strict=True)}
    assert got.keys() == expected.keys()
    np.testing.assert_allclose([got[k] for k in expected], list(expected.values()), rtol=1e-5)
    np.testing.assert_allclose(float(jnp.sum(cells.weight)), 1.0, rtol=1e-6)
    # 100,000 sampled pairs: each cell's frequency within 5 binomial standard errors of its weight
    n = 100_000
    sample = jax.jit(preferences.sample_bandit_pairs, static_argnums=2)(
        jax.random.key(1), bandit, n
    )
    freq = np.asarray(
        jax.jit(preference_bandit.empirical_weights, static_argnums=2)(sample, cells, 6)
    )
    w = np.asarray(cells.weight)
    assert np.all(np.abs(freq - w) <= 5 * np.sqrt(w * (1 - w) / n))
    np.testing.assert_allclose(freq.sum(), 1.0, rtol=1e-4)  # float32 sums


@pytest.mark.parametrize("beta", BETAS)
def test_the_closed_form_optimum_is_a_stationary_point_of_the_expected_loss(beta):
    """pi* = pi_ref exp(r / beta) / Z zeroes the gradient of the exact expected DPO loss (float64);
    the reference, where training starts, does not."""
    bandit = _bandit()
    cells = preferences.bandit_pairs(bandit)
    config = _config("dpo_bandit")
    hparams = dpo.Hparams(beta, 0.05, 0.0, 0.0, 0.0)

    def loss(logits, ref):
        log_pi = jax.nn.log_softmax(logits, axis=-1)
        pick = lambda t: (t[cells.context, cells.chosen], t[cells.context, cells.rejected])  # noqa: E731
        return dpo.preference_loss(pick(log_pi), pick(ref), cells.weight, hparams, config=config)[0]

    with jax.enable_x64(True):
        ref = jnp.asarray(bandit.reference_logits, jnp.float64)
        star = preferences.optimal_log_policy(
            preferences.Bandit(jnp.asarray(bandit.reward, jnp.float64), ref), beta
        )
        at_optimum = jax.grad(loss)(star, ref)
        at_reference = jax.grad(loss)(ref, ref)
    assert np.abs(np.asarray(at_optimum)).max() < 1e-8  # the float32 problem's rounding
    assert np.abs(np.asarray(at_reference)).max() > 1e-3


def test_the_exact_loss_reaches_the_optimum_for_every_beta_of_one_vmapped_sweep():
    """KL(pi* || pi) <= 0.01 for every beta (the acceptance figure), from one compiled sweep."""
    config = _config("dpo_bandit", chunk_steps=300)
    result = _train(config, num_seeds=1, num_chunks=1)
    kl = result.metrics["kl_to_optimum"][-1, :, 0]
    assert kl.shape == (4,)
    assert np.all(kl <= 0.01), kl
    # and the trade-off: more reward and more KL from the reference as beta shrinks
    reward = result.metrics["expected_reward"][-1, :, 0]
    away = result.metrics["kl_to_reference"][-1, :, 0]
    assert np.all(np.diff(reward) < 0) and np.all(np.diff(away) < 0)


def test_50k_sampled_pairs_reach_kl_at_most_0_05_in_every_seed():
    """The empirical optimum of 50,000 pairs is pi* up to sampling error: its KL from pi* scales
    like E_pi*[1 / pi_ref] / (n beta^2), largest at beta = 0.1. Seeds 0-3 are fixed, so this test
    is deterministic; over 32 seeds the largest KL at beta = 0.1 was 0.033 (mean 0.012)."""
    config = _config("dpo_bandit", "sampled", chunk_steps=400)
    result = _train(config, num_seeds=4, num_chunks=1)
    kl = result.metrics["kl_to_optimum"][-1]  # [betas, seeds]
    assert np.all(kl <= 0.05), kl


def test_a_vmapped_beta_sweep_equals_separate_runs():
    """Each beta of the runner's vmapped sweep gives what the same functions give for that beta
    alone (one compiled program for the separate runs, called once per beta)."""
    config = _config("dpo_bandit", "sampled", chunk_steps=50, pairs=5_000)
    experiment = dpo.make_experiment(config)
    settings = run.settings_from_config(experiment, config)
    keys = seed_keys(0, 2)
    swept = run.train(experiment, settings.hparams, keys, num_chunks=1)

    @jax.jit
    def alone(key, hparams):
        return experiment.train_chunk(experiment.init(key, hparams), hparams)

    for h in range(len(BETAS)):
        hparams = jax.tree.map(lambda x, h=h: x[h], settings.hparams)
        for i in range(2):
            carry, metrics = alone(keys[i], hparams)
            np.testing.assert_allclose(swept.carry.logits[h, i], carry.logits, rtol=1e-5, atol=1e-6)
            np.testing.assert_allclose(
                swept.metrics["kl_to_optimum"][0, h, i], metrics["kl_to_optimum"], atol=1e-6
            )


def test_reference_free_dpo_reaches_softmax_of_r_over_beta():
    config = _config("dpo_bandit", chunk_steps=300, reference_free=True)
    result = _train(config, num_seeds=1, num_chunks=1)
    assert np.all(result.metrics["kl_to_optimum"][-1] <= 0.01)
    beta = np.asarray(BETAS)[:, None, None]
    star = jax.nn.log_softmax(_bandit().reward[None] / beta, axis=-1)
    log_pi = jax.nn.log_softmax(result.carry.logits[:, 0], axis=-1)
    assert float(jnp.max(preferences.kl(star, log_pi))) <= 0.02


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"task": "chat"}, "config.task must be one of"),
        ({"loss_type": "kto"}, "config.loss_type must be one of"),
        ({"pairs": -1}, "config.pairs must be an integer >= 0"),
        ({"responses": 1}, "config.responses must be an integer >= 2"),
        ({"reference_scale": -1.0}, r"config.reference_scale must be a real number in \[0, 100\)"),
    ],
)
def test_bad_bandit_configs_are_named(overrides, message):
    with pytest.raises(ValueError, match=message):
        dpo.make_experiment(_config("dpo_bandit", **overrides))


def test_label_smoothing_is_refused_where_the_loss_has_none(tmp_path):
    config = _config("dpo_bandit", loss_type="ipo")
    with config.unlocked():
        config.hparams.label_smoothing = 0.1
    experiment = dpo.make_experiment(config)
    with pytest.raises(ValueError, match=r"hparams.label_smoothing = 0.1 .*\[0, 0\]"):
        run.run(experiment, config, str(tmp_path), log=lambda _: None)


# The language model: SFT, then DPO from its parameters.

TINY_MODEL = {"width": 16, "depth": 1, "heads": 2, "hidden": 32, "vocab": 4, "length": 3}


def _dpo_config(workdir, **overrides):
    fields = {"total_steps": 4, "chunk_steps": 2, "pairs": 64, "batch_size": 8, "eval_pairs": 16}
    fields["sft_workdir"] = str(workdir)
    config = _config("dpo_lm", "dpo", **{**fields, **overrides})
    with config.unlocked():
        config.sweep.beta = (0.1, 1.0)
    return config


@pytest.fixture(scope="module")
def sft_dir(tmp_path_factory):
    """SFT of a tiny mixture-of-experts model, 2 seeds of 40 steps: the start of DPO and of the
    reward model and PPO-RLHF (this module runs on one xdist worker, so the run is made once).

    The mixture's capacity factor is 2 = experts / top_k: every expert has a slot for every
    token, so nothing is dropped (``dropped`` is 0 in both runs) and the policy's first loss is
    exactly at the reference (a drop would move the policy's log-probabilities off the
    reference's, which use the exact mixture). Drops are tested in tests/test_transformer.py."""
    sft_dir = tmp_path_factory.mktemp("lm") / "sft"
    config = _config(
        "dpo_lm",
        "sft_moe",
        num_seeds=2,
        total_steps=40,
        chunk_steps=20,
        eval_size=32,
        capacity_factor=2.0,
        **TINY_MODEL,
    )
    experiment = importlib.import_module(config.experiment).make_experiment(config)
    run.run(experiment, config, str(sft_dir), log=lambda _: None)
    return sft_dir


@pytest.fixture(scope="module")
def dpo_dir(sft_dir):
    """DPO from seed 1 of the SFT run: 2 steps of 8 pairs, one per chunk, betas 0.1 and 1."""
    dpo_dir = sft_dir.parent / "dpo"
    config = _dpo_config(sft_dir, sft_seed=1, chunk_steps=1, total_steps=2)
    run.run(dpo.make_experiment(config), config, str(dpo_dir), log=lambda _: None)
    return dpo_dir


def test_sft_then_dpo_from_its_parameters(sft_dir, dpo_dir, tmp_path):
    """The SFT run, then DPO from seed 1 of it (the fixtures above: their two compiled runs are
    the cost)."""
    rates = json.loads((sft_dir / "summary.json").read_text())["settings"][0]["final_per_seed"]
    assert set(rates) == {"nll_gap", "train_nll", "copy_probability", "load_balancing", "dropped"}
    assert all(len(v) == 2 for v in rates.values())
    assert rates["dropped"] == [0.0, 0.0]

    with pytest.raises(ValueError, match=r"config.sft_seed must be an integer in \[0, 2\)"):
        dpo.make_experiment(_dpo_config(sft_dir, sft_seed=2))
    config = _dpo_config(sft_dir, sft_seed=1, chunk_steps=1, total_steps=2)

    # The initial policy and the reference are seed 1's parameters of the SFT run.
    model, task, reference = dpo.load_reference(config)
    assert model.experts == 4 and model.top_k == 2 and task.length == 3
    # Each run read back once, for the checks below and for its readout.
    read_back = {workdir: run.load(str(workdir)) for workdir in (sft_dir, dpo_dir)}
    sft_params = read_back[sft_dir].carry.params
    for ours, theirs in zip(jax.tree.leaves(reference), jax.tree.leaves(sft_params), strict=True):
        np.testing.assert_array_equal(ours, theirs[0, 1])
    arrays = run.result_arrays(str(dpo_dir))
    # The first step's loss is taken at the reference itself: ln 2 for every pair.
    np.testing.assert_allclose(arrays["train_loss"][0], math.log(2), rtol=1e-6)
    np.testing.assert_array_equal(arrays["dropped"], 0.0)
    assert np.all(arrays["kl_to_reference"][-1] > 0)  # and then the policy has moved
    for name in ("curves.png", "tradeoff.png"):
        assert (dpo_dir / name).stat().st_size > 0
    summary = json.loads((dpo_dir / "summary.json").read_text())
    assert [s["label"] for s in summary["settings"]] == ["beta=0.1", "beta=1"]

    # The pairs: responses sampled from the reference for one prompt, labelled by the score.
    data = jax.tree.map(lambda x: x[0, 0], read_back[dpo_dir].carry.data)
    for seqs in (data.chosen, data.rejected, data.eval_reference):
        assert seqs.shape[1] == task.sequence_length
        np.testing.assert_array_equal(seqs[:, task.length], task.separator)
        response = seqs[:, task.length + 1 :]  # any token, the separator included
        assert np.all((response >= 0) & (response < task.vocab_size))
    better = preferences.score(task, data.chosen) - preferences.score(task, data.rejected)
    assert float(jnp.mean(better > 0)) > float(jnp.mean(better < 0))
    np.testing.assert_array_equal(data.chosen[:, : task.length], data.rejected[:, : task.length])
    # The reference's log-probabilities of every pair, kept from the start, are the reference's.
    pair_log_probs = jax.jit(lambda *a: dpo.response_pair_log_probs(model, task, *a)[0])
    logps = pair_log_probs(reference, data.chosen, data.rejected)
    np.testing.assert_allclose(data.reference_logps, logps, rtol=1e-5)

    # Both language models' readout is their sampler: prompts (with the separator) in,
    # responses of the task's length out; greedy decoding is deterministic.
    prompts = data.chosen[:4, : task.length + 1]
    for workdir, loaded in read_back.items():
        for mode in ("greedy", "sample"):
            responses = np.asarray(loaded.policy(seed=1, mode=mode)(prompts, jax.random.key(0)))
            assert responses.shape == (4, task.length), (workdir, mode)
            assert np.all((responses >= 0) & (responses < task.vocab_size))
        greedy = loaded.policy(seed=1)
        np.testing.assert_array_equal(
            greedy(prompts, jax.random.key(1)), greedy(prompts, jax.random.key(2))
        )
        # experiments.evaluate: no environment, so the held-out metrics of the checkpoint.
        evaluated.check(workdir, tmp_path, video=False)


@pytest.mark.parametrize(
    "workdir, message",
    [
        ("", "config.sft_workdir must be the work directory of a finished"),
        ("/nonexistent/sft", "is not a directory"),
    ],
)
def test_bad_sft_workdirs_are_named(workdir, message):
    with pytest.raises(ValueError, match=message):
        dpo.make_experiment(_dpo_config(workdir))


def test_a_run_of_another_experiment_is_not_an_sft_run(tmp_path):
    """Refused from the run's config.json (what a run writes first; nothing else is read), as
    in the test below: the workdir holds the config of a DPO bandit run."""
    config = _config("dpo_bandit", chunk_steps=2, total_steps=2)
    (tmp_path / "config.json").write_text(config.to_json_best_effort(sort_keys=True))
    with pytest.raises(ValueError, match="holds a run of 'jaxrl.agents.dpo', not of"):
        dpo.make_experiment(_dpo_config(tmp_path))


def test_an_sft_run_that_swept_several_settings_is_refused(tmp_path):
    """Which setting's parameters would start DPO is ambiguous: refused from the run's config,
    before any checkpoint is read."""
    config = _config("dpo_lm", "sft")
    with config.unlocked():
        config.sweep.learning_rate = (1e-3, 3e-3)
    (tmp_path / "config.json").write_text(config.to_json_best_effort(sort_keys=True))
    with pytest.raises(ValueError, match="swept 2 settings: run DPO from a run of one setting"):
        dpo.make_experiment(_dpo_config(tmp_path))


def test_sft_then_a_reward_model_on_dpos_pairs_then_ppo_on_it(sft_dir, dpo_dir, tmp_path):
    """RLHF's pipeline through the runner, from the SFT run DPO starts from: a reward model
    (``dpo_lm.py:reward_model``) trained on the very pairs DPO's run drew for each seed, then
    PPO-RLHF (``dpo_lm.py:ppo_rlhf``) from seed 1 of the SFT run against each seed's reward
    model, betas 0.1 and 1, 2 steps of 8 responses."""
    from jaxrl.agents import ppo_rlhf, reward_model

    reward_dir, ppo_dir = tmp_path / "reward_model", tmp_path / "ppo"
    fields = {"pairs": 64, "batch_size": 8, "eval_pairs": 16, "sft_workdir": str(sft_dir)}
    config = _config("dpo_lm", "reward_model", total_steps=2, chunk_steps=1, sft_seed=1, **fields)
    run.run(reward_model.make_experiment(config), config, str(reward_dir), log=lambda _: None)
    rewards = run.load(str(reward_dir))
    # DPO's pairs, seed by seed (the same seed keys).
    theirs = run.load(str(dpo_dir)).carry.data
    for name in ("chosen", "rejected", "eval_chosen", "eval_rejected"):
        np.testing.assert_array_equal(
            getattr(rewards.carry.data, name)[0], getattr(theirs, name)[0], err_msg=name
        )
    # The head starts at 0: every reward is 0, so the first step's loss is ln 2 exactly.
    arrays = run.result_arrays(str(reward_dir))
    np.testing.assert_allclose(arrays["loss"][0], math.log(2), rtol=1e-6)
    # reward_error, recomputed from the checkpoint: r_phi's pair differences against the score's.
    model, task, _ = dpo.load_reference(config)
    data = jax.tree.map(lambda x: x[0, 0], rewards.carry.data)
    params = jax.tree.map(lambda x: x[0, 0], rewards.carry.params)
    rewards_of = jax.jit(lambda p, x: reward_model.sequence_rewards(model, p, x)[0])
    chosen, rejected = rewards_of(params, data.eval_chosen), rewards_of(params, data.eval_rejected)
    gap = preferences.score(task, data.eval_chosen) - preferences.score(task, data.eval_rejected)
    expected = np.sqrt(np.mean(np.square(np.asarray(chosen - rejected - gap, np.float64))))
    np.testing.assert_allclose(arrays["reward_error"][-1][0, 0], expected, rtol=1e-4)

    config = _config(
        "dpo_lm",
        "ppo_rlhf",
        num_seeds=2,
        total_steps=2,
        chunk_steps=1,
        samples=8,
        epochs=2,
        eval_prompts=8,
        sft_workdir=str(sft_dir),
        sft_seed=1,
        reward_workdir=str(reward_dir),
    )
    with config.unlocked():
        config.sweep.beta = (0.1, 1.0)
    run.run(ppo_rlhf.make_experiment(config), config, str(ppo_dir), log=lambda _: None)
    loaded = run.load(str(ppo_dir))
    # Each seed scores with its own seed's reward model, and starts at the SFT run's seed 1.
    for ours, reward in zip(
        jax.tree.leaves(loaded.carry.reward), jax.tree.leaves(rewards.carry.params), strict=True
    ):
        for setting in (0, 1):
            np.testing.assert_array_equal(ours[setting], reward[0, :2])
    arrays = run.result_arrays(str(ppo_dir))
    assert np.all(arrays["kl_to_reference"][-1] > 0)  # the policy has moved off the reference
    assert np.all(np.isfinite(arrays["value_loss"]))
    assert (ppo_dir / "tradeoff.png").stat().st_size > 0
    # The readout samples responses of the task's length.
    prompts = preferences.prompts(jax.random.key(0), task, 4)
    responses = np.asarray(loaded.policy(setting=1, seed=0)(prompts, jax.random.key(1)))
    assert responses.shape == (4, task.length)

    # The frontier command on the DPO and PPO-RLHF runs (both from SFT seed 1), best-of-n from
    # 8 reference responses to each of 4 prompts.
    out = tmp_path / "frontier"
    flags = [f"--sft_workdir={sft_dir}", "--sft_seed=1", f"--runs={dpo_dir},{ppo_dir}"]
    flags += [f"--out={out}", "--prompts=4", "--samples=8", "--max_n=4", "--scores=1,2"]
    proc = subprocess.run(
        [sys.executable, "-m", "experiments.lm_frontier", *flags],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    table = json.loads((out / "frontier.json").read_text())
    assert [row[0] for row in table["points"]["best-of-n"]] == ["n=1", "n=2", "n=4"]
    assert table["points"]["best-of-n"][0][1] == 0.0  # best-of-1 is the reference
    assert set(table["points"]) == {"best-of-n", "DPO", "PPO-RLHF"}
    assert proc.stdout.count("least:") == 2 and (out / "frontier.png").stat().st_size > 0
