"""The paper's comparison of learning rules, per layer (``lela experiment``).

Every row trains the same network (``--sizes``, initial weights from
``init_seed``) and reports the test error of every layer's classifier after
the last epoch, mean +- standard deviation over seeds. Seed ``k`` (0-based)
uses ``init_seed + k`` for the initial weights and for the data order
(``numpy.random.default_rng([init_seed + k, 0])`` permutes every epoch;
``[init_seed + k, 1]`` draws dropout masks); the classifier seeds stay the
hardware's. The float rows and the fixed-point row see the same samples in
the same order.

Rows (:data:`ROWS`): backprop and feedback alignment (one trainable top
classifier, so only the last layer has an error), the local rule with
symmetric, sign-concordant and independent feedback, the local rule with
trainable classifiers, and the bit-exact fixed-point model (online, or
mini-batches of ``cfg.batch`` with their updates summed and rounded once;
feedback from ``--feedback``).
"""

from __future__ import annotations

import math
import sys
import time

import numpy as np

from lela.config import ConfigError

from .float_model import FloatNetwork
from .network import FixedNetwork

__all__ = ["ROWS", "markdown", "plot", "run_experiment", "run_row", "steps_text",
           "summarize", "train_fixed_epoch"]

#: row name -> (label, float method or "fixed", feedback override)
ROWS = {
    "backprop": ("backprop", "bp", None),
    "fa": ("feedback alignment", "fa", None),
    "local-symmetric": ("local, symmetric", "local", "symmetric"),
    "local-sign-concordant": ("local, sign-concordant", "local", "sign_concordant"),
    "local-independent": ("local, independent", "local", "independent"),
    "local-trainable": ("local, trainable classifiers", "local_trainable", None),
    "fixed-point": ("fixed-point", "fixed", None),  # labelled with its feedback
}



# -- training ---------------------------------------------------------------
def _fixed_error(net, xq, labels):
    return [float(e) for e in net.evaluate(xq, labels)]


def train_fixed_epoch(net, xq, labels, order, active=None):
    """One pass of a :class:`FixedNetwork` over ``xq`` in ``order``: online,
    or mini-batches of ``net.cfg.batch`` whose last one, if partial, is
    applied at the end of the pass (:meth:`FixedNetwork.flush`).

    With ``active`` (a set of layer indices) only those layers learn: the
    others' control word ``learn`` is cleared for the pass, as the host does
    it on the hardware (layer-wise training); ``net.learn`` is restored after.
    """
    saved = list(net.learn)
    if active is not None:
        net.learn = [i in active for i in range(net.cfg.layers)]
    try:
        for n in order:
            net.train_step(xq[n], labels[n])
        net.flush()
    finally:
        net.learn = saved


def run_row(cfg, data, row, seed, epochs, *, batch=1, schedule="simultaneous", tick=None):
    """Train one row for one seed; returns ``(curve, diverged, saturation)``.

    ``curve`` is an array (epochs_total x layers) of test errors after each
    epoch, NaN where the row has no classifier; ``diverged`` is True if the
    float parameters overflowed (training stopped there; later epochs repeat
    the last evaluation, whose predictions are meaningless). ``saturation``
    (fixed-point row only, else None): per layer, after training, the largest
    fraction of the training samples on which one neuron's activation is
    clamped at the format's largest value (:meth:`FixedNetwork.saturation`).
    """
    _, kind, feedback = ROWS[row]
    cfg = cfg.replace(init_seed=cfg.init_seed + seed)
    if feedback is not None:
        cfg = cfg.replace(feedback=feedback)
    L = cfg.layers
    order_rng = np.random.default_rng([cfg.init_seed, 0])
    drop_rng = np.random.default_rng([cfg.init_seed, 1])
    layerwise = schedule == "layerwise"
    phases = [{i} for i in range(L)] if layerwise else [None]
    if kind in ("bp", "fa"):  # no per-layer loss: all layers learn, as many epochs in total
        phases = [None] * len(phases)
    curve, diverged = [], False

    if kind == "fixed":
        net = FixedNetwork(cfg)
        xq = net.quantize(data.x_train)
        xtq = net.quantize(data.x_test)
        for active in phases:
            for _ in range(epochs):
                train_fixed_epoch(net, xq, data.y_train, order_rng.permutation(len(xq)), active)
                curve.append(_fixed_error(net, xtq, data.y_test))
                if tick:
                    tick()
        saturation = [float(f.max()) for f in net.saturation(xq)]
        return np.array(curve), False, saturation

    net = FloatNetwork(cfg, kind)
    with np.errstate(over="ignore", invalid="ignore"):
        for active in phases:
            for _ in range(epochs):
                order = order_rng.permutation(len(data.y_train))
                if not diverged:
                    net.train_epoch(data.x_train, data.y_train, order, batch, drop_rng, active)
                    diverged = not net.finite()
                curve.append([np.nan if e is None else e
                              for e in net.evaluate(data.x_test, data.y_test)])
                if tick:
                    tick()
    return np.array(curve, dtype=np.float64), diverged, None


def summarize(curves):
    """Mean and standard deviation over seeds of the final errors, per layer
    (sample standard deviation, ddof=1; 0 for a single seed). None where the
    row has no classifier."""
    final = np.array([c[-1] for c in curves])
    out = []
    for j in range(final.shape[1]):
        col = final[:, j]
        if np.isnan(col).any():
            out.append(None)
        else:
            std = float(np.std(col, ddof=1)) if len(col) > 1 else 0.0
            out.append({"mean": float(np.mean(col)), "std": std})
    return out


# -- reporting ----------------------------------------------------------------
def _cell(stat):
    return "—" if stat is None else f"{100 * stat['mean']:.2f} ± {100 * stat['std']:.2f}"


def markdown_table(results):
    L = len(results["config"]["sizes"]) - 1
    head = "| method | " + " | ".join(f"layer {i + 1}" for i in range(L)) + " |"
    rule = "|---|" + "---:|" * L
    lines = [head, rule]
    for r in results["methods"].values():
        runs = r["diverged"]
        mark = f" (diverged in {sum(runs)} of {len(runs)} runs)" if any(runs) else ""
        cells = " | ".join(_cell(s) for s in r["layers"])
        lines.append(f"| {r['label']}{mark} | {cells} |")
    return "\n".join(lines)


def _over_seeds(results):
    n, first = results["seeds"], results["config"]["init_seed"]
    if n == 1:
        return f"1 seed (init_seed {first}; std shown as 0)"
    return f"mean ± std over {n} seeds (init_seed {first}..{first + n - 1})"


def saturation_lines(results):
    """One line per fixed-point row: per layer, the largest fraction (%) of
    the training samples on which one neuron saturates, over the seeds."""
    lines = []
    for r in results["methods"].values():
        if r.get("saturation"):
            worst = np.max(np.array(r["saturation"]), axis=0)
            cells = ", ".join(f"layer {i + 1} {100 * v:.2f} %" for i, v in enumerate(worst))
            lines.append(f"Saturation, {r['label']} (the most-saturated neuron's share of "
                         f"the training samples after training, worst seed): {cells}.")
    return lines


def steps_text(eta_shift):
    """``eta_shift`` (an int, or one entry per layer: a tuple or a JSON list)
    as text: ``2^-7`` or ``2^-(5, 8, 10) per layer``."""
    if isinstance(eta_shift, int):
        return f"2^-{eta_shift}"
    return "2^-(" + ", ".join(str(e) for e in eta_shift) + ") per layer"


def _fixed_batch_text(batch):
    return "online" if batch == 1 else f"mini-batch {batch}, summed"


def markdown(results):
    """The results as a Markdown table (mean +- std per row and layer)."""
    cfg = results["config"]
    sizes = "-".join(str(n) for n in cfg["sizes"])
    caption = (
        f"Test error (%) per layer's classifier on **{results['dataset']}** "
        f"({results['train_samples']} training, {results['test_samples']} test samples), "
        f"network {sizes}, {cfg['classes']} classes, loss {cfg['loss']}, "
        f"activations Q{cfg['act_width'] - cfg['act_frac'] - 1}.{cfg['act_frac']}, "
        f"eta = {steps_text(cfg['eta_shift'])}, dropout {cfg['dropout']}, "
        f"{results['epochs']} epochs ({results['schedule']}), float batch {results['batch']} "
        f"(fixed-point: {_fixed_batch_text(cfg.get('batch', 1))}), {_over_seeds(results)}.")
    sat = saturation_lines(results)
    return "\n".join([caption, "", markdown_table(results), ""] + (sat + [""] if sat else []))


def plot(results, path):
    """Write test error vs epoch per layer, one line per row, as a PNG."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = list(results["methods"].items())
    cols = min(len(rows), 4)
    nrows = math.ceil(len(rows) / cols)
    fig, axes = plt.subplots(nrows, cols, figsize=(3.6 * cols, 3.0 * nrows), squeeze=False)
    for ax, (row, r) in zip(axes.flat, rows):
        curves = np.array(r["curves"], dtype=np.float64)  # seeds x epochs x layers
        epochs = np.arange(1, curves.shape[1] + 1)
        for j in range(curves.shape[2]):
            if np.isnan(curves[:, :, j]).all():
                continue
            mean, std = 100 * curves[:, :, j].mean(0), 100 * curves[:, :, j].std(0)
            ax.plot(epochs, mean, color=f"C{j}", label=f"layer {j + 1}")
            ax.fill_between(epochs, mean - std, mean + std, color=f"C{j}", alpha=0.2)
        runs = r["diverged"]
        title = r["label"] + (f" (diverged {sum(runs)}/{len(runs)})" if any(runs) else "")
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("epoch")
        ax.set_ylabel("test error (%)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    for ax in list(axes.flat)[len(rows):]:
        ax.axis("off")
    fig.suptitle(f"{results['dataset']}: test error per layer "
                 f"({_over_seeds(results)})", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# -- command ------------------------------------------------------------------
def run_experiment(cfg, data, rows, *, epochs, seeds, batch=1, schedule="simultaneous",
                   progress=True):
    """Train every row of ``rows`` (names of :data:`ROWS`) ``seeds`` times on
    ``data``; return the results (the dict ``lela experiment --json`` writes).

    Raises :class:`~lela.config.ConfigError` if ``data`` does not fit ``cfg``
    or the fixed-point row cannot run ``cfg``.
    """
    from tqdm import tqdm

    for n in rows:
        if n not in ROWS:
            raise ValueError(f"unknown method {n!r}; choose from {', '.join(ROWS)}")
    for name, value in (("epochs", epochs), ("seeds", seeds), ("batch", batch)):
        if value < 1:
            raise ValueError(f"{name} must be >= 1, not {value!r}")
    if data.features != cfg.sizes[0] or data.classes != cfg.classes:
        raise ConfigError(
            f"sizes/classes: {data.name} has {data.features} inputs and {data.classes} classes, "
            f"the network {cfg.sizes[0]} and {cfg.classes} (use --sizes {data.features},...)")
    if "fixed-point" in rows:
        cfg.check_fixed_point()
    total_epochs = epochs * (cfg.layers if schedule == "layerwise" else 1)
    bar = tqdm(total=len(rows) * seeds * total_epochs, unit="epoch",
               disable=not progress, file=sys.stderr)
    results = {
        "dataset": data.name, "train_samples": len(data.y_train),
        "test_samples": len(data.y_test), "config": cfg.to_dict(), "epochs": epochs,
        "epochs_total": total_epochs, "schedule": schedule, "batch": batch,
        "seeds": seeds, "methods": {},
    }
    for row in rows:
        bar.set_description(row)
        start = time.perf_counter()
        curves, diverged, saturation = [], [], []
        row_batch = cfg.batch if ROWS[row][1] == "fixed" else batch
        for seed in range(seeds):
            curve, div, sat = run_row(cfg, data, row, seed, epochs, batch=row_batch,
                                      schedule=schedule, tick=lambda: bar.update(1))
            curves.append(curve)
            diverged.append(bool(div))
            saturation.append(sat)
        label = ROWS[row][0]
        if ROWS[row][1] == "fixed":
            label = f"fixed-point, {cfg.feedback.replace('_', '-')} (hardware)"
        results["methods"][row] = {
            "label": label,
            "batch": row_batch,
            "layers": summarize(curves),
            "final": [[None if np.isnan(e) else float(e) for e in c[-1]] for c in curves],
            "curves": [[[None if np.isnan(e) else float(e) for e in ep] for ep in c]
                       for c in curves],
            "diverged": diverged,
            "saturation": saturation if ROWS[row][1] == "fixed" else None,
            "seconds": round(time.perf_counter() - start, 2),
        }
    bar.close()
    return results
