"""Tests for ``jaxrl.replay``: a ``collections.deque`` model, sampling statistics, jit and vmap.

Every item carries a unique integer ``id`` and leaves derived from it, so the buffer's contents
can be compared exactly with a ``deque(maxlen=capacity)`` fed the same items, and a sampled item
can be checked to be whole (all its leaves from one slot).
"""

from __future__ import annotations

import collections

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.stats

from jaxrl import replay

add = jax.jit(replay.add)
add_batch = jax.jit(replay.add_batch)
sample = jax.jit(replay.sample, static_argnames="batch_size")
sample_indices = jax.jit(replay.sample_indices, static_argnames="batch_size")


def make_item(i):
    """Item number ``i``: leaves of several shapes and dtypes, all determined by ``i``."""
    i = np.asarray(i, np.int32)
    return {
        "id": i,
        "obs": np.stack([i, -i], axis=-1).astype(np.float32) * 0.5,
        "done": i % 3 == 0,
        "nested": (np.float32(2.0) * i,),
    }


EXAMPLE = make_item(0)


def ids(items) -> list[int]:
    return [int(i) for i in np.asarray(items["id"])]


def assert_whole(items):
    """Each item's leaves come from one slot: they are what ``make_item`` gives for its id."""
    chex.assert_trees_all_equal(items, make_item(np.asarray(items["id"])))


def test_init():
    state = replay.init(4, EXAMPLE)
    chex.assert_trees_all_equal(
        state.data,
        {
            "id": np.zeros(4, np.int32),
            "obs": np.zeros((4, 2), np.float32),
            "done": np.zeros(4, bool),
            "nested": (np.zeros(4, np.float32),),
        },
        strict=True,
    )
    for field in (state.position, state.size):
        chex.assert_shape(field, ())
        chex.assert_type(field, jnp.int32)
        assert int(field) == 0
    # Python scalars give the default JAX dtypes.
    scalars = replay.init(2, (0.0, 0, False))
    assert [x.dtype for x in scalars.data] == [jnp.float32, jnp.int32, jnp.bool_]


@pytest.mark.parametrize("capacity", [0, -3, 2.0, True, "4", None])
def test_bad_capacity_raises_one_line(capacity):
    with pytest.raises(ValueError, match="capacity") as info:
        replay.init(capacity, EXAMPLE)
    assert "\n" not in str(info.value)


def test_bad_arguments_raise():
    state = replay.init(3, EXAMPLE)
    with pytest.raises(ValueError, match="at most the capacity 3"):
        add_batch(state, make_item(np.arange(4)))
    with pytest.raises(ValueError, match="batch_size"):
        replay.sample(state, jax.random.key(0), 0)
    with pytest.raises(ValueError, match="leaves"):
        replay.init(3, {})
    with pytest.raises(AssertionError):  # wrong shape
        replay.add(state, {**EXAMPLE, "obs": np.zeros(3, np.float32)})
    with pytest.raises(AssertionError):  # wrong structure
        replay.add(state, {"id": EXAMPLE["id"]})
    with pytest.raises(TypeError, match="id"):  # a float into an int slot
        replay.add(state, {**EXAMPLE, "id": np.float32(1.0)})


@pytest.mark.parametrize("capacity", [1, 3, 8])
@pytest.mark.parametrize("seed", [0, 1])
def test_matches_deque(capacity, seed):
    """Random adds and batch adds, wrapping around at least four times, against a deque."""
    gen = np.random.default_rng(seed)
    state = replay.init(capacity, EXAMPLE)
    model: collections.deque[int] = collections.deque(maxlen=capacity)
    next_id = 1
    while next_id <= 5 * capacity + 3:
        if gen.uniform() < 0.5:
            state = add(state, make_item(next_id))
            model.append(next_id)
            next_id += 1
        else:
            # a few batch sizes, the capacity among them, to keep the number of compilations small
            batch = int(gen.choice(np.unique([1, 2, capacity - 1, capacity]).clip(1, capacity)))
            new = np.arange(next_id, next_id + batch)
            state = add_batch(state, make_item(new))
            model.extend(new.tolist())
            next_id += batch
        stored = replay.items_in_order(state)
        assert ids(stored) == list(model)  # in order of insertion
        assert_whole(stored)
        filled = {"id": np.asarray(state.data["id"])[: int(state.size)]}
        assert sorted(ids(filled)) == sorted(model)  # the filled slots as a multiset
        assert int(state.size) == len(model)
        assert int(state.position) == (next_id - 1) % capacity


def test_sample_returns_stored_items():
    key = jax.random.key(0)
    for capacity, num_added in [(10, 4), (10, 10), (10, 27)]:
        state = replay.init(capacity, EXAMPLE)
        for i in range(1, 1 + num_added):
            state = add(state, make_item(i))
        stored = set(ids(replay.items_in_order(state)))
        key, sample_key = jax.random.split(key)
        batch = sample(state, sample_key, batch_size=256)
        chex.assert_shape(batch["obs"], (256, 2))
        assert set(ids(batch)) <= stored
        assert_whole(batch)
        # sample is gather at sample_indices with the same key.
        slots = sample_indices(state, sample_key, batch_size=256)
        chex.assert_shape(slots, (256,))
        chex.assert_type(slots, jnp.int32)
        chex.assert_trees_all_equal(batch, replay.gather(state, slots))


@pytest.mark.parametrize("capacity,num_added", [(10, 7), (6, 20)])
def test_sample_is_uniform(capacity, num_added):
    """Chi-square goodness of fit of the sampled ids to the uniform law on the stored items.

    ``N = 60_000`` draws over ``k = min(num_added, capacity)`` items: under uniform sampling the
    statistic ``sum (count - N/k)^2 / (N/k)`` is chi-square with ``k - 1`` degrees of freedom
    (every expected count is ``>= 6000``, far above the usual minimum of 5). The test rejects at
    significance 1e-4, so a correct sampler fails it once in 10,000 keys; the key is fixed, so
    the outcome is deterministic. A sampler that skipped one slot, or drew from the unfilled ones
    (``(6, 20)`` is full and wrapped; ``(10, 7)`` is not full), gives a statistic in the
    thousands.
    """
    state = replay.init(capacity, EXAMPLE)
    for i in range(1, 1 + num_added):
        state = add(state, make_item(i))
    num_draws = 60_000
    drawn = np.asarray(sample(state, jax.random.key(1), batch_size=num_draws)["id"])
    stored = ids(replay.items_in_order(state))
    counts = np.array([np.sum(drawn == i) for i in stored])
    assert counts.sum() == num_draws  # nothing outside the stored items
    expected = num_draws / len(stored)
    statistic = np.sum((counts - expected) ** 2 / expected)
    critical = scipy.stats.chi2.ppf(1.0 - 1e-4, df=len(stored) - 1)
    assert statistic < critical, (statistic, critical, counts)


def run_sequence(add_fn, add_batch_fn, sample_fn, seed):
    """A fixed sequence of adds and a sample of 8 from a buffer whose items depend on ``seed``."""
    state = replay.init(5, EXAMPLE)
    offset = 100 * seed
    state = add_fn(state, make_item(offset + 1))
    state = add_batch_fn(state, make_item(offset + np.arange(2, 6)))
    state = add_fn(state, make_item(offset + 6))  # wraps
    state = add_batch_fn(state, make_item(offset + np.arange(7, 10)))
    return state, sample_fn(state, jax.random.fold_in(jax.random.key(2), seed), 8)


def test_vmap_over_seeds_equals_separate_runs():
    seeds = [0, 1, 2]
    separate = [run_sequence(add, add_batch, sample, seed) for seed in seeds]

    def stacked(make):
        return jax.tree.map(lambda *xs: np.stack(xs), *[make(seed) for seed in seeds])

    vadd, vadd_batch = jax.jit(jax.vmap(replay.add)), jax.jit(jax.vmap(replay.add_batch))
    vsample = jax.jit(jax.vmap(replay.sample, in_axes=(0, 0, None)), static_argnums=2)
    state = stacked(lambda _: replay.init(5, EXAMPLE))
    state = vadd(state, stacked(lambda s: make_item(100 * s + 1)))
    state = vadd_batch(state, stacked(lambda s: make_item(100 * s + np.arange(2, 6))))
    state = vadd(state, stacked(lambda s: make_item(100 * s + 6)))
    state = vadd_batch(state, stacked(lambda s: make_item(100 * s + np.arange(7, 10))))
    keys = jnp.stack([jax.random.fold_in(jax.random.key(2), seed) for seed in seeds])
    batch = vsample(state, keys, 8)
    for s, (state_s, batch_s) in enumerate(separate):
        chex.assert_trees_all_equal(jax.tree.map(lambda x, s=s: x[s], state), state_s)
        chex.assert_trees_all_equal(jax.tree.map(lambda x, s=s: x[s], batch), batch_s)


def test_jit_matches_eager():
    eager = run_sequence(replay.add, replay.add_batch, replay.sample, seed=3)
    jitted = run_sequence(add, add_batch, sample, seed=3)
    chex.assert_trees_all_equal(eager, jitted)


def test_add_traces_once():
    @jax.jit
    @chex.assert_max_traces(n=1)
    def add_once(state, item):
        return replay.add(state, item)

    @jax.jit
    @chex.assert_max_traces(n=1)
    def add_two(state, items):
        return replay.add_batch(state, items)

    state = replay.init(4, EXAMPLE)
    for i in range(1, 11):  # wraps around twice: position and size are data, not structure
        state = add_once(state, make_item(i))
        state = add_two(state, make_item(np.array([100 + i, 200 + i])))
    assert ids(replay.items_in_order(state)) == [9, 109, 209, 10, 110, 210][-4:]
