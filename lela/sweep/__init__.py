"""Design-space sweeps on Dask distributed (``lela sweep``).

A sweep file (:mod:`lela.sweep.spec`) names a base configuration, axes (any
configuration field, the board, the seed) and the measurements of every point
(:mod:`lela.sweep.measure`: ``design``, ``verilator``, ``build``,
``accuracy``). :func:`run_sweep` (:mod:`lela.sweep.engine`) runs the points'
tasks on a Dask cluster, a local one by default, with every result cached by
content (:mod:`lela.sweep.cache`); :func:`write_report`
(:mod:`lela.sweep.report`) writes the table (JSON, CSV) with the Pareto
fronts (:mod:`lela.sweep.pareto`) marked, and their plots. docs/sweeps.md is
the user's guide.

A library: it stands on the configuration, the data, the models, the RTL,
the simulation and the boards, and knows nothing of the command line.
"""

from .cache import Cache, sources_digest, task_key
from .engine import (
    Failure,
    Job,
    JobsResult,
    SchedulerError,
    SweepResult,
    Task,
    connect,
    local_client,
    run_jobs,
    run_sweep,
    run_task,
)
from .measure import MEASUREMENTS, Measurement
from .pareto import FRONTS, mark_fronts, pareto_front
from .report import format_table, rows, write_report
from .spec import Point, Spec, SweepError, expand, load_spec, parse_spec

__all__ = ["FRONTS", "MEASUREMENTS", "Cache", "Failure", "Job", "JobsResult", "Measurement",
           "Point", "SchedulerError", "Spec", "SweepError", "SweepResult", "Task", "connect",
           "expand", "format_table", "load_spec", "local_client", "mark_fronts", "pareto_front",
           "parse_spec", "rows", "run_jobs", "run_sweep", "run_task", "sources_digest",
           "task_key", "write_report"]
