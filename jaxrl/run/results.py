"""What a run records, apart from running it: the rows of ``metrics.csv`` per recorded point,
a chunk's metrics split into its recorded windows, and the files a finished run collects from
its per-chunk files (``per_seed.npz``, ``summary.json``, ``curves.png`` and the experiment's own
figures). :func:`jaxrl.run.runner.run` calls these; split from it to keep each file readable.
"""

from __future__ import annotations

import io
import json
import math
import os

import jax
import numpy as np

from jaxrl.run import stats
from jaxrl.run import workdir as workdir_files
from jaxrl.run.hparams import Settings


def window_steps(config) -> int:
    """The training steps between two recorded points of a run: ``config.log_every`` if the
    config sets it (a positive value), else ``config.chunk_steps`` (one point per chunk)."""
    every = int(config.get("log_every", 0) or 0)
    return every if every else int(config.chunk_steps)


def metric_rows(chunk, step, env_steps, settings: Settings, experiment, per_setting):
    rows = []
    for h, values in enumerate(settings.values):
        row = {
            "chunk": chunk,
            "step": step,
            "env_steps": env_steps,
            "setting": h,
            "label": settings.labels[h],
        }
        row.update(values)
        for name in experiment.metrics:
            stats_ = per_setting[name]
            for key in ("mean", "std", "ci_low", "ci_high"):
                row[f"{name}_{key}"] = float(stats_[key][h])
            if name in experiment.nan_metrics:
                row[f"{name}_count"] = int(stats_["count"][h])
        rows.append(row)
    return rows


def json_number(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


def windows_of(host: dict) -> list[dict]:
    """A chunk's metrics (a chunk file's, or ``Program.host_metrics``'s) as one
    ``{name: [settings, seeds]}`` per recorded window: ``[settings, seeds]`` arrays are one
    window, ``[windows, settings, seeds]`` arrays several (``config.log_every``)."""
    arrays = {name: np.asarray(v) for name, v in host.items()}
    if all(v.ndim == 2 for v in arrays.values()):
        return [arrays]
    count = len(next(iter(arrays.values())))
    return [{name: v[w] for name, v in arrays.items()} for w in range(count)]


def finish(
    experiment,
    config,
    workdir,
    *,
    settings: Settings,
    wall,
    run_env_steps,
    compile_seconds,
    device_count,
    config_json,
) -> dict:
    """Collects the per-chunk files into ``per_seed.npz``, ``summary.json`` and ``curves.png``."""
    chunk_steps = int(config.chunk_steps)
    num_chunks = config.total_steps // chunk_steps
    per_chunk = workdir_files.read_chunks(workdir, num_chunks, experiment.metrics)
    points = [w for host in per_chunk for w in windows_of(host)]  # every recorded window
    arrays = {name: np.stack([p[name] for p in points]) for name in experiment.metrics}
    steps = (np.arange(len(points)) + 1) * window_steps(config)
    env_steps = steps * experiment.env_steps_per_step
    workdir_files.atomic_npz(
        os.path.join(workdir, "per_seed.npz"), {"step": steps, "env_steps": env_steps, **arrays}
    )
    final = {name: values[-1] for name, values in arrays.items()}  # [H, seeds]
    final_stats = {name: stats.summarize(final[name], 1) for name in experiment.metrics}
    summary = {
        "config": config_json,
        "settings": [
            {
                "label": settings.labels[h],
                "hparams": values,
                "final": {
                    name: {
                        k: (int(v[h]) if k == "count" else json_number(float(v[h])))
                        for k, v in final_stats[name].items()
                    }
                    for name in experiment.metrics
                },
                "final_per_seed": {
                    name: [json_number(float(x)) for x in final[name][h]]
                    for name in experiment.metrics
                },
            }
            for h, values in enumerate(settings.values)
        ],
        "main_metric": experiment.main_metric,
        "train_steps_per_seed": int(steps[-1]),
        "env_steps_per_seed": int(env_steps[-1]),
        "compile_time_s": compile_seconds,
        "wall_time_s": wall,
        "env_steps_per_s_this_session": run_env_steps / wall if wall > 0 else None,
        "device_count": device_count,
        "devices": str(jax.devices()[0].device_kind),
    }
    workdir_files.atomic_write(
        os.path.join(workdir, "summary.json"), json.dumps(summary, indent=2).encode()
    )
    names = experiment.curve_metrics or (experiment.main_metric,)
    figures = {
        "curves": curves_figure(
            experiment,
            settings,
            env_steps,
            {name: arrays[name] for name in names},
            int(config.num_seeds),
        )
    }
    if experiment.figures is not None:
        own = experiment.figures(settings, {"step": steps, "env_steps": env_steps, **arrays})
        figures.update({name: own[name] for name in sorted(own) if name != "curves"})
    for name, fig in figures.items():
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
        workdir_files.atomic_write(os.path.join(workdir, f"{name}.png"), buffer.getvalue())
    return summary


def curves_figure(experiment, settings: Settings, env_steps, values, num_seeds: int):
    """The figure of ``curves.png``: for each metric, one panel of its mean and 95% interval over
    seeds for each setting, against environment steps (``experiment.step_unit``) per seed.

    ``values`` is ``[chunks, settings, seeds]`` (the main metric) or ``{metric: that}``.
    """
    from jaxrl import plotting

    if not isinstance(values, dict):
        values = {experiment.main_metric: values}
    fig, axes = plotting.new_figure(1, len(values), panel_size=4.5)
    for ax, (name, array) in zip(axes[0], values.items(), strict=True):
        curves = stats.summarize(array, axis=2)  # [chunks, H]
        plotting.plot_learning_curves(
            ax,
            env_steps,
            curves["mean"].T,
            curves["ci_low"].T,
            curves["ci_high"].T,
            labels=settings.labels,
            xlabel=f"{experiment.step_unit} per seed",
            ylabel=name,
            title=f"{name}: mean and 95% CI over {num_seeds} seeds",
            allow_nan=name in experiment.nan_metrics,
        )
    return fig
