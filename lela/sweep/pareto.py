"""Pareto fronts of a sweep's table.

A front trades a cost (LUTs, DSPs, weight bits: less is better) against a
benefit (training throughput, accuracy: more is better). A point is on the
front when no other point costs at most as much and brings at least as much,
and is better in one of the two; equal points are all on the front. A point
without both figures (invalid, failed, not measured) is on no front: its mark
is None.
"""

from __future__ import annotations

__all__ = ["FRONTS", "mark_fronts", "pareto_front"]

#: Front name -> (cost column, benefit column, per board): the throughput
#: fronts compare builds of one board (an ECP5 LUT4 is no iCE40 logic cell).
FRONTS = {
    "throughput_luts": ("luts", "throughput", True),
    "throughput_dsps": ("dsps", "throughput", True),
    "accuracy_bits": ("weight_bits", "accuracy", False),
}


def pareto_front(points) -> list:
    """For ``points``, a list of ``(cost, benefit)`` pairs or None, whether each
    is on the Pareto front (least cost, most benefit): a list of bool, None
    where the point is None."""
    marks = []
    for p in points:
        if p is None:
            marks.append(None)
            continue
        cost, benefit = p
        dominated = any(q is not None and q[0] <= cost and q[1] >= benefit
                        and (q[0] < cost or q[1] > benefit) for q in points)
        marks.append(not dominated)
    return marks


def mark_fronts(rows, fronts=None):
    """Set ``row["pareto"][front]`` on every row (a list of dicts holding the
    columns of :data:`FRONTS`): True on the front, False off it, None without
    the figures. Returns the rows."""
    fronts = FRONTS if fronts is None else fronts
    for row in rows:
        row.setdefault("pareto", {})
    for name, (cost, benefit, per_board) in fronts.items():
        groups = {}
        for i, row in enumerate(rows):
            group = row.get("board") if per_board else None
            groups.setdefault(group, []).append(i)
        for members in groups.values():
            pts = []
            for i in members:
                c, b = rows[i].get(cost), rows[i].get(benefit)
                pts.append((c, b) if c is not None and b is not None else None)
            for i, mark in zip(members, pareto_front(pts)):
                rows[i]["pareto"][name] = mark
    return rows
