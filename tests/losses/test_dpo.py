"""The DPO loss family: ln 2 at initialisation, hand values, gradients against central finite
differences (float64), stability at log-ratio differences of 1e4 in float32, clear errors, and
sequence log-probabilities against a brute-force per-token loop."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxrl.losses import dpo
from tests.losses.test_policy import _finite_difference

B = 5


def _logps(seed=0, scale=3.0):
    rng = np.random.default_rng(seed)
    return [rng.normal(scale=scale, size=B) - 10.0 for _ in range(4)]


def _sigmoid(x):
    return 1 / (1 + math.exp(-x))


def _by_hand(loss_type, h, beta, eps):
    """One pair's loss from its log-ratio difference h, written from the papers' formulas."""
    if loss_type == "sigmoid":
        return -(1 - eps) * math.log(_sigmoid(beta * h)) - eps * math.log(_sigmoid(-beta * h))
    if loss_type == "robust":
        return (
            (1 - eps) * -math.log(_sigmoid(beta * h)) - eps * -math.log(_sigmoid(-beta * h))
        ) / (1 - 2 * eps)
    if loss_type == "hinge":
        return max(0.0, 1 - beta * h)
    return (h - 1 / (2 * beta)) ** 2


def test_the_sigmoid_loss_is_ln_2_when_the_policy_is_the_reference():
    chosen, rejected, _, _ = _logps()
    out = dpo.dpo_loss(chosen, rejected, chosen, rejected, beta=0.1)
    np.testing.assert_allclose(out.loss, np.full(B, math.log(2)), rtol=1e-6)
    np.testing.assert_array_equal(out.chosen_reward, 0.0)
    np.testing.assert_array_equal(out.rejected_reward, 0.0)
    metrics = dpo.preference_metrics(out, jnp.asarray(chosen), jnp.asarray(rejected))
    np.testing.assert_allclose(metrics["loss"], math.log(2), rtol=1e-6)
    assert float(metrics["reward_accuracy"]) == 0.0  # ties are not counted as correct


@pytest.mark.parametrize(
    "loss_type, eps",
    [("sigmoid", 0.0), ("sigmoid", 0.2), ("robust", 0.2), ("hinge", 0.0), ("ipo", 0.0)],
)
@pytest.mark.parametrize("beta", [0.1, 2.0])
def test_each_loss_by_hand_and_its_gradient_by_finite_differences(loss_type, eps, beta):
    logps = _logps(seed=1, scale=0.5 / beta)  # h of order 1 / beta: both sides of the hinge
    out = dpo.dpo_loss(*logps, beta=beta, label_smoothing=eps, loss_type=loss_type)
    h = (logps[0] - logps[2]) - (logps[1] - logps[3])
    expected = [_by_hand(loss_type, float(x), beta, eps) for x in h]
    np.testing.assert_allclose(out.loss, expected, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(out.chosen_reward, beta * (logps[0] - logps[2]), atol=1e-5)
    np.testing.assert_allclose(out.rejected_reward, beta * (logps[1] - logps[3]), atol=1e-5)

    def total(policy):
        c, r = policy[:B], policy[B:]
        kwargs = {"beta": beta, "label_smoothing": eps, "loss_type": loss_type}
        return jnp.sum(dpo.dpo_loss(c, r, logps[2], logps[3], **kwargs).loss)

    with jax.enable_x64(True):
        x = np.concatenate([logps[0], logps[1]]).astype(np.float64)
        analytic = np.asarray(jax.grad(total)(jnp.asarray(x)))
        numeric = _finite_difference(lambda z: float(total(jnp.asarray(z))), x)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-7)
    assert np.abs(analytic).max() > 1e-3  # the check is not between two zeros


def test_the_reference_gets_no_gradient_and_reference_free_drops_it():
    c, r, rc, rr = (jnp.asarray(x) for x in _logps())
    grads = jax.grad(lambda a, b: jnp.sum(dpo.dpo_loss(c, r, a, b, beta=0.5).loss), (0, 1))(rc, rr)
    for g in grads:
        np.testing.assert_array_equal(g, 0.0)
    free = dpo.dpo_loss(c, r, None, None, beta=0.5, reference_free=True)
    zeros = dpo.dpo_loss(c, r, jnp.zeros(B), jnp.zeros(B), beta=0.5)
    np.testing.assert_array_equal(free.loss, zeros.loss)
    np.testing.assert_allclose(free.chosen_reward, 0.5 * c)


@pytest.mark.parametrize(
    "loss_type, eps", [("sigmoid", 0.1), ("robust", 0.1), ("hinge", 0.0), ("ipo", 0.0)]
)
@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_losses_and_gradients_stay_finite_at_log_ratio_differences_of_1e4(loss_type, eps, sign):
    chosen = jnp.full(B, -5.0, jnp.float32)
    rejected = chosen - sign * 1e4  # h = +-1e4
    ref = jnp.full(B, -5.0, jnp.float32)

    def total(c, r):
        kwargs = {"beta": 3.0, "label_smoothing": eps, "loss_type": loss_type}
        return jnp.sum(dpo.dpo_loss(c, r, ref, ref, **kwargs).loss)

    value, grads = jax.value_and_grad(total, (0, 1))(chosen, rejected)
    assert np.isfinite(float(value))
    for g in grads:
        assert np.all(np.isfinite(np.asarray(g)))
    if loss_type == "sigmoid" and sign < 0:  # a badly wrong pair: loss ~ 0.9 beta |h|
        np.testing.assert_allclose(float(value) / B, 0.9 * 3.0 * 1e4, rtol=1e-5)


def test_vmap_over_beta_equals_separate_calls():
    logps = [jnp.asarray(x, jnp.float32) for x in _logps(seed=2)]
    betas = jnp.array([0.1, 0.3, 1.0, 3.0])
    for loss_type in dpo.LOSS_TYPES:

        def losses(beta, loss_type=loss_type):
            return dpo.dpo_loss(*logps, beta=beta, loss_type=loss_type).loss

        swept = jax.vmap(losses)(betas)
        for i, beta in enumerate([0.1, 0.3, 1.0, 3.0]):
            alone = dpo.dpo_loss(*logps, beta=beta, loss_type=loss_type).loss
            np.testing.assert_allclose(swept[i], alone, rtol=1e-6)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"beta": 0.0}, "beta must be a finite number > 0"),
        ({"beta": float("nan")}, "beta must be a finite number > 0"),
        ({"beta": 0.1, "label_smoothing": 0.5}, r"label_smoothing must be in \[0, 0.5\)"),
        ({"beta": 0.1, "label_smoothing": -0.1}, r"label_smoothing must be in \[0, 0.5\)"),
        ({"beta": 0.1, "loss_type": "kto"}, "loss_type must be one of"),
        ({"beta": 0.1, "loss_type": "ipo", "label_smoothing": 0.1}, "label_smoothing applies"),
        ({"beta": 0.1, "reference_free": 1}, "reference_free must be True or False"),
    ],
)
def test_bad_hyperparameters_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        dpo.dpo_loss(*_logps(), **kwargs)


def test_bad_shapes_are_named():
    c, r, rc, rr = _logps()
    with pytest.raises(ValueError, match=r"same shape \[B\].*reference_rejected_logps \(4,\)"):
        dpo.dpo_loss(c, r, rc, rr[:4], beta=0.1)
    with pytest.raises(ValueError, match="policy_chosen_logps must be a \\[B\\] float array"):
        dpo.dpo_loss(c[:, None], r, rc, rr, beta=0.1)
    with pytest.raises(ValueError, match="may be None only with reference_free"):
        dpo.dpo_loss(c, r, None, rr, beta=0.1)


def _brute_force(logits, tokens, mask, average):
    total, count = 0.0, 0
    for t in range(1, len(tokens)):
        if mask[t]:
            z = logits[t - 1].astype(np.float64)
            log_p = z[tokens[t]] - (z.max() + math.log(np.exp(z - z.max()).sum()))
            total += log_p
            count += 1
    return total / max(count, 1) if average else total


@pytest.mark.parametrize("average", [False, True])
def test_sequence_log_probs_against_a_per_token_loop(average):
    rng = np.random.default_rng(3)
    T, V = 9, 7
    logits = rng.normal(scale=3.0, size=(4, T, V)).astype(np.float32)
    tokens = rng.integers(0, V, size=(4, T))
    masks = np.zeros((4, T), bool)
    masks[0, 4:] = True  # a response after a 4-token prompt
    masks[1, 3:7] = True  # then 2 padding tokens
    masks[2, :] = True  # position 0 has no prediction: never counted
    # masks[3]: nothing to score
    got = jax.vmap(lambda z, y, m: dpo.sequence_log_probs(z, y, m, average=average))(
        logits, tokens, masks
    )
    expected = [_brute_force(logits[i], tokens[i], masks[i], average) for i in range(4)]
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    assert float(got[3]) == 0.0


def test_sequence_log_probs_is_exact_for_huge_logits():
    logits = jnp.array([[1e4, 0.0, -1e4], [0.0, 0.0, 0.0]], jnp.float32)
    tokens = jnp.array([0, 2])
    value = dpo.sequence_log_probs(logits, tokens, jnp.array([0, 1]))
    np.testing.assert_allclose(float(value), -2e4, rtol=1e-6)  # the log of a softmax would be -inf


def test_sequence_log_probs_names_bad_shapes():
    with pytest.raises(ValueError, match="logits \\[T, V\\], tokens \\[T\\] and mask \\[T\\]"):
        dpo.sequence_log_probs(jnp.zeros((2, 3, 4)), jnp.zeros((3,), int), jnp.ones(3))
    with pytest.raises(ValueError, match="the same length T, got 3, 3 and 2"):
        dpo.sequence_log_probs(jnp.zeros((3, 4)), jnp.zeros((3,), int), jnp.ones(2))
