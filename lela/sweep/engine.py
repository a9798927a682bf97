"""Running a sweep on Dask distributed.

The points of a sweep become tasks, one per point and measurement, named by
their cache key (:func:`lela.sweep.cache.task_key`): points that share a
task (the same configuration measured for two boards' builds needs one
``design`` and one ``accuracy``) share it, and a task whose key is in the
cache is not run. The others go to a Dask cluster: by default a
``distributed.LocalCluster`` on this machine, one worker process per core,
one thread each, so that a task that runs a tool process (yosys, nextpnr,
Verilator) runs one per worker; or an existing cluster (:func:`connect`).

The longest tasks start first (builds, then simulations, then training, then
elaboration; the larger design first: :func:`lela.sweep.measure.cost`), and
no more are on the cluster at once than it has threads, so that none waits
behind another on a busy worker while a worker is free.

Every task is a pure function of its inputs (:func:`run_task`); the worker
writes its result into the cache before it returns it, so a result is never
computed twice, even when its worker dies before the client has it. A
failing measurement is a result with its error and the sweep goes on; an
exception that is the machine's rather than the input's is retried
(``retries``), then reported. A worker that dies mid-task (killed,
out of memory) is replaced by its nanny, and the scheduler gives the task to
another worker; after ``allowed_failures`` deaths of the same task it is
reported as failed (``KilledWorker``).

The same engine runs any list of independent function calls
(:class:`Job`, :func:`run_jobs`): ``lela bench`` sends its board builds and
simulations through it.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from lela.config import Config

from .cache import Cache, sources_digest, task_key, tool_versions
from .measure import EXPECTED_ERRORS, MEASUREMENTS, cost

__all__ = ["Failure", "Job", "JobsResult", "SchedulerError", "SweepResult", "Task", "connect",
           "dashboard_available", "local_client", "plan_tasks", "run_jobs", "run_sweep",
           "run_task"]


@dataclass(frozen=True)
class Task:
    """One measurement of one configuration: everything its result depends on.

    Attributes
    ----------
    key : str
        Its cache key.
    measurement : str
        Name of the measurement.
    fn : callable
        The measurement's function.
    config : dict
        The configuration (:meth:`Config.to_dict`).
    options : dict
        The measurement's options.
    board, seed : str, int or None
        The point's board and seed, where the measurement uses them.
    work : str
        Folder for the task's build files (a sub-folder named after the key).
    keep_work : bool
        Keep that sub-folder when the task succeeds (a failed task's is kept).
    priority : int
        Its Dask priority: the expected longest first
        (:func:`~lela.sweep.measure.cost`).
    """

    key: str
    measurement: str
    fn: Callable
    config: dict
    options: dict
    board: str | None = None
    seed: int | None = None
    work: str = "build/sweep/work"
    keep_work: bool = False
    priority: int = 0

    @property
    def name(self) -> str:
        """Its Dask key: the measurement and the cache key."""
        return f"lela-{self.measurement}-{self.key}"


def plan_tasks(spec, points, *, work, measurements=None, sources=None):
    """The tasks of ``points``: ``(tasks, keys)`` with ``tasks`` a dict cache key
    -> :class:`Task` (one per distinct key) and ``keys`` one dict per point,
    measurement -> key (empty for a point the configuration rules reject)."""
    measurements = MEASUREMENTS if measurements is None else measurements
    sources = sources_digest() if sources is None else sources
    versions = {m: tool_versions(measurements[m].tools) for m in spec.measure}
    tasks, keys = {}, []
    for point in points:
        mine = {}
        if point.config is not None:
            cfg = point.config.to_dict()
            for m in spec.measure:
                meas = measurements[m]
                board = point.board if "board" in meas.inputs else None
                seed = point.seed if "seed" in meas.inputs else None
                key = task_key(meas, cfg, spec.options[m], board=board, seed=seed,
                               sources=sources, tools=versions[m])
                tasks.setdefault(key, Task(key=key, measurement=m, fn=meas.fn, config=cfg,
                                           options=spec.options[m], board=board, seed=seed,
                                           work=str(work), keep_work=spec.keep_work,
                                           priority=cost(meas, point.config)))
                mine[m] = key
        keys.append(mine)
    return tasks, keys


def _first_line(e):
    text = str(e).strip().splitlines()
    return f"{type(e).__name__}: {text[0] if text else ''}".rstrip(": ")


def run_task(task, cache_root=None) -> dict:
    """Run ``task`` (on a worker) and return its cache entry: ``ok``, ``result``
    or ``error`` and ``error_type``, ``seconds``. An expected error
    (:data:`~lela.sweep.measure.EXPECTED_ERRORS`) is a result; any other
    exception propagates (the scheduler retries the task). With ``cache_root``
    an entry already there is returned as it is, and a new one is written
    there before it is returned."""
    cache = Cache(cache_root) if cache_root else None
    if cache is not None:
        hit = cache.get(task.key)
        if hit is not None:
            return hit
    work = Path(task.work) / f"{task.measurement}-{task.key[:16]}"
    shutil.rmtree(work, ignore_errors=True)     # left by an attempt whose worker died
    t0 = time.perf_counter()
    entry = {"key": task.key, "measurement": task.measurement, "config": task.config,
             "options": {k: v for k, v in task.options.items() if not k.startswith("_")},
             "board": task.board, "seed": task.seed}
    try:
        result = task.fn(Config.from_dict(task.config), task.options, board=task.board,
                         seed=task.seed, work=work)
        entry.update(ok=True, result=result, error=None, error_type=None)
    except EXPECTED_ERRORS as e:
        entry.update(ok=False, result=None, error=_first_line(e), error_type=type(e).__name__)
    if entry["ok"] and not task.keep_work:
        shutil.rmtree(work, ignore_errors=True)     # a failed task's logs stay
    entry.update(seconds=time.perf_counter() - t0,
                 finished=time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()))
    if cache is not None:
        cache.put(entry)
    return entry


class SchedulerError(OSError):
    """The scheduler cannot be reached; the message names the address."""


def connect(address, timeout=10.0):
    """A ``distributed.Client`` of the scheduler at ``address`` (such as
    ``tcp://host:8786``); :class:`SchedulerError` if it cannot be reached within
    ``timeout`` seconds."""
    from distributed import Client
    from distributed.comm.addressing import parse_address, parse_host_port

    try:
        scheme, location = parse_address(address, strict=False)
        if scheme in ("tcp", "tls"):
            parse_host_port(location)
    except (ValueError, TypeError) as e:
        raise SchedulerError(f"not a Dask scheduler address: {address!r} ({e})") from None
    try:
        return Client(address, timeout=timeout, set_as_default=False)
    except (OSError, TimeoutError, ValueError, TypeError) as e:
        raise SchedulerError(f"cannot reach the Dask scheduler {address!r} within {timeout:g} s "
                             f"({_first_line(e)})") from None


def dashboard_available() -> bool:
    """Whether a local cluster can serve Dask's dashboard (it needs bokeh)."""
    return importlib.util.find_spec("bokeh") is not None


@contextlib.contextmanager
def local_client(workers=None, *, dashboard=":8787", allowed_failures=3):
    """A ``distributed.LocalCluster`` on this machine and its client: ``workers``
    worker processes (default one per core), one thread each, with nannies that replace a worker that dies; ``allowed_failures``
    deaths of a task's workers before it is given up. The dashboard at ``dashboard`` when bokeh
    is installed."""
    import dask
    from distributed import Client, LocalCluster

    n = workers or os.cpu_count() or 1
    with dask.config.set({"distributed.scheduler.allowed-failures": allowed_failures}):
        cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                               # the scheduler serves HTTP even without the dashboard:
                               # then on any free port, not on the dashboard's
                               dashboard_address=dashboard if dashboard_available() else ":0")
        client = Client(cluster, set_as_default=False)
    try:
        yield client
    finally:
        client.close()
        cluster.close()


def _dashboard(client, local):
    info = client.scheduler_info().get("services", {})
    if "dashboard" not in info or (local and not dashboard_available()):
        return None
    return client.dashboard_link


@dataclass
class SweepResult:
    """What a sweep ran and found.

    Attributes
    ----------
    spec : Spec
        The sweep.
    points : list of Point
        Its points.
    keys : list of dict
        Per point, measurement -> task key (see :func:`plan_tasks`).
    entries : dict
        Task key -> cache entry (:func:`run_task`), ``cached`` set on each.
    ran, cached, failed : int
        Tasks run in this sweep, read from the cache, failed without a result.
    seconds : float
        Wall-clock time of the sweep.
    workers : int or None
        Workers of the cluster (None when nothing ran).
    dashboard : str or None
        The Dask dashboard address, when there was one.
    sources : str
        The sources digest of the task keys (:func:`~lela.sweep.cache.sources_digest`).
    tools : dict
        Versions of the tools the sweep's measurements run.
    """

    spec: object
    points: list
    keys: list
    entries: dict
    ran: int = 0
    cached: int = 0
    failed: int = 0
    seconds: float = 0.0
    workers: int | None = None
    dashboard: str | None = None
    sources: str = ""
    tools: dict = field(default_factory=dict)


def run_sweep(spec, *, cache, work, client=None, workers=None, dashboard=":8787",
              rerun=False, retries=1, allowed_failures=3, no_workers=300.0, progress=False,
              log=None, measurements=None) -> SweepResult:
    """Run ``spec`` (a :class:`~lela.sweep.spec.Spec`): every point's tasks not in
    the cache folder ``cache`` (all of them with ``rerun``) on ``client``, or on
    a :func:`local_client` of ``workers`` started only if a task is to run.
    ``work`` holds the tasks' build folders; ``log(message)`` is told the
    plan and the dashboard; ``progress`` shows a progress bar on stderr. If
    the cluster has no worker for ``no_workers`` seconds, the tasks not done
    are reported as failed (``NoWorkers``) rather than waited for forever."""
    t0 = time.perf_counter()
    log = log or (lambda msg: None)
    measurements = MEASUREMENTS if measurements is None else measurements
    points = spec.points()
    sources = sources_digest()
    tasks, keys = plan_tasks(spec, points, work=Path(work), measurements=measurements,
                             sources=sources)
    store = Cache(cache)   # paths as given: relative ones name no machine in a message
    entries, todo = {}, {}
    for key, task in tasks.items():
        hit = None if rerun else store.get(key)
        if hit is not None:
            entries[key] = dict(hit, cached=True)
        else:
            todo[key] = task
    invalid = sum(p.config is None for p in points)
    log(f"{len(points)} point(s), {invalid} rejected by the configuration rules; "
        f"{len(tasks)} task(s): {len(entries)} cached, {len(todo)} to run")
    result = SweepResult(spec=spec, points=points, keys=keys, entries=entries,
                         cached=len(entries), sources=sources,
                         tools=tool_versions(sorted({t for m in spec.measure
                                                     for t in measurements[m].tools})))
    if todo:
        with contextlib.ExitStack() as stack:
            if client is None:
                client = stack.enter_context(local_client(
                    workers, dashboard=dashboard, allowed_failures=allowed_failures))
                local = True
            else:
                local = False
            result.workers = len(client.scheduler_info(n_workers=-1)["workers"])
            result.dashboard = _dashboard(client, local)
            if result.dashboard:
                board = f"; dashboard {result.dashboard}"
            else:
                board = "; no dashboard" + (" (it needs bokeh)" if local else "")
            log(f"{result.workers} worker(s){board}")
            _run(client, todo, store, entries, result, retries=retries, progress=progress,
                 rerun=rerun, no_workers=no_workers)
    result.seconds = time.perf_counter() - t0
    return result


def _failure(task, error_type, error):
    return {"key": task.key, "measurement": task.measurement, "ok": False, "result": None,
            "error_type": error_type, "error": error, "seconds": None}


def _threads(client):
    return sum(w.get("nthreads", 1) for w in
               client.scheduler_info(n_workers=-1)["workers"].values())


@dataclass(frozen=True)
class Job:
    """One function call for :func:`run_jobs`: ``fn(*args, **kwargs)`` on a worker.

    Attributes
    ----------
    name : str
        Its name, unique among the jobs of a run (the Dask key).
    fn : callable
        A module-level function (the workers import it); its arguments and
        its result must pickle.
    args : tuple
        Positional arguments.
    kwargs : dict
        Keyword arguments.
    priority : int
        The expected longest first, as :attr:`Task.priority`.
    """

    name: str
    fn: Callable
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)
    priority: int = 0


@dataclass(frozen=True)
class Failure:
    """A job that gave no result.

    Attributes
    ----------
    error_type : str
        The exception's class name (``KilledWorker``, ``NoWorkers``,
        ``Cancelled`` when the cluster gave up on it).
    error : str
        One line.
    exception : BaseException or None
        The exception the job raised, when there was one.
    """

    error_type: str
    error: str
    exception: BaseException | None = None


@dataclass
class JobsResult:
    """What :func:`run_jobs` ran.

    Attributes
    ----------
    values : dict
        Job name -> its result.
    failures : dict
        Job name -> :class:`Failure`, for the jobs without a result.
    workers : int or None
        Workers that ran them: the cluster's, 1 when they ran in this
        process, None when there was no job.
    seconds : float
        Wall-clock time.
    dashboard : str or None
        The Dask dashboard address, when there was one.
    """

    values: dict = field(default_factory=dict)
    failures: dict = field(default_factory=dict)
    workers: int | None = None
    seconds: float = 0.0
    dashboard: str | None = None


def _in_order(jobs):
    """The jobs longest first (stable: equal priorities in the order given)."""
    return sorted(jobs, key=lambda item: -item[1].priority)


def run_jobs(jobs, *, client=None, workers=None, retries=0, allowed_failures=3,
             no_workers=300.0, dashboard=":0", log=None) -> JobsResult:
    """Run independent :class:`Job` s on Dask, the longest first, and wait for all.

    On ``client`` (a ``distributed.Client`` of any cluster), or on a
    :func:`local_client` of ``workers`` (default one per core) started for
    them. With one worker (or one job) and no ``client`` the jobs run in this
    process instead, one after the other in the same order: a cluster would
    add nothing. No more jobs are on the cluster at once than it has threads
    (see :func:`run_sweep`); a job that raises is retried ``retries`` times,
    one whose workers died ``allowed_failures`` times, or that waited
    ``no_workers`` seconds on a cluster without workers, fails. A failure
    does not stop the others: it is in :attr:`JobsResult.failures`, with the
    exception the job raised. ``log(message)`` is told the cluster."""
    t0 = time.perf_counter()
    log = log or (lambda msg: None)
    jobs = list(jobs)
    names = [job.name for job in jobs]
    if len(set(names)) != len(names):
        raise ValueError("job names must be unique")
    out = JobsResult()
    if not jobs:
        return out

    def done(name, value, failure):
        if failure is None:
            out.values[name] = value
        else:
            out.failures[name] = failure

    items = [(job.name, job) for job in jobs]
    if client is None and (workers == 1 or len(jobs) == 1):
        out.workers = 1
        log(f"{len(jobs)} job(s) in this process")
        for name, job in _in_order(items):
            for attempt in range(retries + 1):
                try:
                    done(name, job.fn(*job.args, **job.kwargs), None)
                    break
                except Exception as e:  # noqa: BLE001 - reported, as from a worker
                    if attempt == retries:
                        done(name, None, Failure(type(e).__name__, _first_line(e), e))
    else:
        with contextlib.ExitStack() as stack:
            local = client is None
            if local:
                client = stack.enter_context(local_client(
                    workers, dashboard=dashboard, allowed_failures=allowed_failures))
            out.workers = len(client.scheduler_info(n_workers=-1)["workers"])
            out.dashboard = _dashboard(client, local)
            log(f"{len(jobs)} job(s) on {out.workers} worker(s)"
                + (f"; dashboard {out.dashboard}" if out.dashboard else ""))
            _drive(client, items, retries=retries, no_workers=no_workers, done=done)
    out.seconds = time.perf_counter() - t0
    return out


def _call(fn, args, kwargs):
    """``fn(*args, **kwargs)``, on a worker (the job's arguments kept apart from
    ``Client.submit``'s own)."""
    return fn(*args, **kwargs)


def _drive(client, items, *, retries, no_workers, done):
    """Run ``items`` (name, :class:`Job`) on ``client``, the longest first, never
    more at once than the cluster has threads; ``done(name, value, failure)``
    is told each as it ends (``failure`` a :class:`Failure` or None)."""
    from distributed import wait
    from distributed.client import FuturesCancelledError

    # Longest first, and never more jobs on the cluster than it has threads: a
    # job sent to a busy worker waits there behind its running one even when
    # another worker becomes free (Dask assigns such independent tasks to
    # workers at once, whatever their priority), so the rest wait here in order.
    pending = _in_order(items)
    running = {}            # future -> name
    alone_since = None      # since when the cluster has had no worker
    while pending or running:
        threads = _threads(client)
        while pending and len(running) < max(1, threads):
            name, job = pending.pop(0)
            running[client.submit(_call, job.fn, job.args, job.kwargs, key=name,
                                  retries=retries, priority=job.priority, pure=False)] = name
        if threads:
            alone_since = None
        elif alone_since is None:
            alone_since = time.monotonic()
        elif time.monotonic() - alone_since > no_workers:
            why = Failure("NoWorkers", f"the cluster had no worker for {no_workers:g} s")
            for future, name in running.items():
                future.cancel()
                done(name, None, why)
            for name, _ in pending:
                done(name, None, why)
            return
        try:
            with client.as_current():
                wait(list(running), timeout=2, return_when="FIRST_COMPLETED")
        except (TimeoutError, FuturesCancelledError):
            pass        # none finished yet (the workers are looked at again); or cancelled
        for future in [f for f in running if f.status != "pending"]:
            name = running.pop(future)
            if future.status == "finished":
                value, failure = future.result(), None
            else:   # its workers died too often, or it raised after its retries, or
                    # the cluster cancelled it: no result
                e = future.exception() if future.status == "error" else None
                value = None
                failure = (Failure(type(e).__name__, _first_line(e), e) if e else
                           Failure("Cancelled", f"the task was {future.status}"))
            future.release()
            done(name, value, failure)


def _run(client, todo, store, entries, result, *, retries, progress, rerun, no_workers):
    from tqdm import tqdm

    if rerun:
        for key in todo:
            store.path(key).unlink(missing_ok=True)
    root = str(store.root)
    bar = tqdm(total=len(todo), desc="lela sweep", unit="task", file=sys.stderr,
               disable=not progress, dynamic_ncols=True)
    names = {task.name: key for key, task in todo.items()}

    def done(name, entry, failure):
        key = names[name]
        if failure is None:
            if store.get(key) is None:      # a worker without the client's folder
                store.put(entry)
            result.ran += 1
        else:   # nothing cached
            entry = _failure(todo[key], failure.error_type, failure.error)
            result.failed += 1
        entries[key] = dict(entry, cached=False)
        bar.update()

    items = [(task.name, Job(task.name, run_task, (task, root), priority=task.priority))
             for task in todo.values()]
    try:
        _drive(client, items, retries=retries, no_workers=no_workers, done=done)
    finally:
        bar.close()
