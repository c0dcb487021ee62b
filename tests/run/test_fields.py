"""The field schema (``jaxrl.run.fields``): one declaration per field, and what is derived."""

import ml_collections
import pytest

from jaxrl.run import POSITIVE, ConfigError, fields, integer, real

SCHEMA = fields.Schema(
    "mypkg.agent",
    variant=fields.static(fields.one_of("plain", "n_step"), "which update"),
    hidden=fields.static(fields.WIDTHS, "hidden layer widths"),
    n=fields.static(
        fields.POSITIVE_INT, "steps of the return", when=lambda c: c.variant == "n_step"
    ),
    scale=fields.static(real(0.0, 1.0), "a static number"),
    learning_rate=fields.swept(POSITIVE, "the step size"),
    period=fields.swept(integer(1), "steps between target moves"),
)


def _config(**fields_):
    config = ml_collections.ConfigDict(
        {"experiment": "mypkg.agent", "seed": 0, "num_seeds": 1, "total_steps": 1}
    )
    config.update(
        {"chunk_steps": 1, "checkpoint_every": 1, "hparams": {}, "sweep": {}, "sweep_mode": "zip"}
    )
    config.update({"variant": "plain", "hidden": (8,), "scale": 0.5, **fields_})
    return config


def test_hparams_and_domains_come_from_the_swept_fields_in_order():
    assert SCHEMA.hparams_type._fields == ("learning_rate", "period")
    assert SCHEMA.domains == {"learning_rate": POSITIVE, "period": integer(1)}
    assert SCHEMA.hparams_type.schema is SCHEMA
    longer = SCHEMA.extend("mypkg.other", after="learning_rate", tau=fields.swept(POSITIVE, "t"))
    assert longer.hparams_type._fields == ("learning_rate", "tau", "period")
    assert "swept  an integer >= 1: steps between target moves" in SCHEMA.describe()


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"variant": "other"}, r"config.variant must be one of \('plain', 'n_step'\), got 'other'"),
        ({"hidden": (8, 0)}, r"config.hidden must be a tuple of positive integers, got \(8, 0\)"),
        ({"scale": 2.0}, r"config.scale must be a real number in \[0, 1\], got 2.0"),
        ({"scale": True}, r"config.scale must be a real number in \[0, 1\], got True"),
        ({"typo": 1}, "config.typo is not a field of mypkg.agent, which reads: hidden, scale"),
        ({"n": 3}, r"config.n is not read by mypkg.agent with this config \(steps of the return\)"),
        ({"variant": "n_step"}, r"config lacks the field 'n' \(steps of the return\)"),
        ({"variant": "n_step", "n": 0}, "config.n must be a positive integer, got 0"),
        ({"period": 3}, "config.period is swept: set it as config.hparams.period"),
    ],
)
def test_a_bad_field_is_refused_in_one_line_derived_from_its_declaration(changes, message):
    with pytest.raises(ConfigError, match=message) as error:
        SCHEMA.check(_config(**changes))
    assert "\n" not in str(error.value)


def test_a_good_config_passes_and_a_missing_field_is_named():
    SCHEMA.check(_config())
    SCHEMA.check(_config(variant="n_step", n=2))
    config = _config()
    del config["hidden"]
    with pytest.raises(ConfigError, match=r"config lacks the field 'hidden' \(hidden layer"):
        SCHEMA.check(config)
