"""Section ``traffic``: weight-memory and activation words per training sample
from the hardware counters (checked equal to ``golden_model.counters``),
against backprop's traffic under the paper's analysis (``golden_model.traffic``)."""

from __future__ import annotations

from lela.contract import COUNTERS
from lela.golden_model.counters import layer_modes, per_sample
from lela.golden_model.traffic import backprop_traffic, local_traffic, total

from .checks import check_layers
from .utilisation import utilisation_run

__all__ = ["TRAFFIC_BATCHES", "measure"]

#: Mini-batch sizes of the paper's traffic analysis shown beside lela's online rule.
TRAFFIC_BATCHES = (1, 8, 32, 128)


def measure(ctx):
    """Words moved per training sample: hardware counters vs model vs backprop."""
    cfg = ctx.cfg
    run = utilisation_run(ctx, cfg, f"{ctx.plan.config} network")
    n = run["samples"]
    hw = [{k: row[k] / n for k in COUNTERS} for row in run["counters"]]
    model = [per_sample(cfg, i, m) for i, m in enumerate(layer_modes(cfg, True))]
    equal = check_layers("traffic (per training sample)", hw, model, got_name="hardware",
                         want_name="golden_model.counters")
    lela = {"weight_reads": sum(r["weight_reads"] for r in hw),
            "weight_writes": sum(r["weight_writes"] for r in hw),
            "act_reads": 0.0, "act_writes": 0.0}
    lela["words"] = sum(lela.values())
    onchip = {"act_reads": sum(r["act_reads"] for r in hw),
              "act_writes": sum(r["act_writes"] for r in hw)}
    bp_rows = backprop_traffic(cfg)
    bp = total(bp_rows)
    by_batch = []
    for b in TRAFFIC_BATCHES:
        bpt, lt = total(backprop_traffic(cfg, b)), total(local_traffic(cfg, b))
        by_batch.append({"batch": b, "backprop_words": bpt["words"],
                         "backprop_act_words": bpt["act_reads"] + bpt["act_writes"],
                         "local_words": lt["words"], "ratio": lt["words"] / bpt["words"]})
    return {
        "sizes": list(cfg.sizes), "lanes": list(cfg.lanes), "classes": cfg.classes,
        "samples": n, "hardware_per_sample": hw, "model_per_sample": model,
        "counters_equal_model": equal,
        "lela": lela, "lela_onchip_activations": onchip,
        "backprop": {"batch": 1, "rows": bp_rows, "total": bp},
        "local_paper": total(local_traffic(cfg)),
        "ratio": lela["words"] / bp["words"],
        "ratio_weights": (lela["weight_reads"] + lela["weight_writes"])
        / (bp["weight_reads"] + bp["weight_writes"]),
        "by_batch": by_batch,
    }
