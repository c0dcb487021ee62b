"""Scores the trained policies of a run, finished or still running, over fresh episodes.

    python -m experiments.evaluate --workdir=DIR [--episodes=100] [--setting=I] [--seed=J] \
        [--mode=greedy|sample] [--eval_seed=0] [--max_steps=N] [--video=PATH.gif]

The run is read back with ``jaxrl.run.load`` (the newest intact checkpoint; a running run is
not disturbed: nothing is locked or written in its work directory). Every (setting, seed), or
the one chosen, plays ``--episodes`` fresh episodes of the run's own environment with its
readout policy (``--mode``), all in one compiled program. The command prints a table: one row
per setting and seed (mean, standard deviation, minimum and maximum return), then the median
and minimum over the seeds of each setting. Episode keys depend on ``--eval_seed``, the setting
and the seed only, so a seed scores the same alone or beside the others. The work is
``jaxrl.run.scoring.evaluate``, which a notebook or a fork calls the same way.

A run without an environment (the preference experiments: DPO, SFT) has no episodes: its table
holds the held-out metrics it recorded at the chunk the checkpoint holds.

``--video=PATH.gif`` also plays one episode of ``--setting`` and ``--seed`` (0 and 0 unless
given) and draws it (``jaxrl.envs.rendering``: the grid world, CartPole, Pendulum, gymnax's
classic-control tasks, MinAtar's image observations and Brax's bodies).
"""

from __future__ import annotations

from absl import flags, logging

from experiments import cli

_WORKDIR = flags.DEFINE_string("workdir", None, "The run's work directory.")
_EPISODES = flags.DEFINE_integer("episodes", 100, "Fresh episodes per setting and seed.")
_SETTING = flags.DEFINE_integer("setting", None, "Score this setting only (an index).")
_SEED = flags.DEFINE_integer("seed", None, "Score this seed only (an index).")
_MODE = flags.DEFINE_enum("mode", "greedy", ["greedy", "sample"], "The policy's readout mode.")
_EVAL_SEED = flags.DEFINE_integer("eval_seed", 0, "The seed of the evaluation episodes.")
_MAX_STEPS = flags.DEFINE_integer(
    "max_steps", None, "Steps per episode (default: the environment's time limit)."
)
_VIDEO = flags.DEFINE_string("video", None, "Also draw one episode to this GIF file.")
cli.at_least("episodes")
for _name, _low in (("max_steps", 1), ("setting", 0), ("seed", 0)):  # optional: None allowed
    flags.register_validator(
        _name,
        lambda v, low=_low: v is None or v >= low,
        message=f"--{_name} must be an integer >= {_low}",
    )


def main(argv):
    del argv
    if not flags.FLAGS["verbosity"].present:
        logging.set_verbosity(logging.WARNING)
    from jaxrl.run import ConfigError, scoring

    if not _WORKDIR.value:
        cli.fail("--workdir is required: the work directory of a run", code=2)
    try:
        lines, _ = scoring.evaluate(
            _WORKDIR.value,
            episodes=_EPISODES.value,
            setting=_SETTING.value,
            seed=_SEED.value,
            mode=_MODE.value,
            eval_seed=_EVAL_SEED.value,
            max_steps=_MAX_STEPS.value,
            video=_VIDEO.value,
        )
    except ConfigError as e:
        cli.fail(str(e))
    print("\n".join(lines), flush=True)


if __name__ == "__main__":
    cli.run(main)
