"""The schedule as a NetworkX dependency DAG, for structure and explanations.

Nodes are compute units ``(worker, position)`` (an op, or an ``Overlap`` of ops) with the
attributes ``worker``, ``action`` and ``duration``; an edge ``u -> v`` means *v cannot
start before u ends*: ``why="data"`` (v consumes u's output, ``latency`` across workers)
or ``why="order"`` (u precedes v in the worker's program). The linear-time checks and the
simulator work on :mod:`verify.passes.index` arrays; this graph is the readable view
(critical paths, cycles, drawing), and an independent route for cross-checks.

>>> from verify.generators import generate
>>> g = to_dag(generate("1f1b", 2, 2))
>>> g.number_of_nodes(), g.number_of_edges()
(8, 12)
>>> length, path = critical_path(g)
>>> length, [g.nodes[u]["action"] for u in path][:3]
(6.0, ['0F0', '1F0', '1B0'])
"""

from __future__ import annotations

import itertools

import networkx as nx

from verify.core.costs import UNIT_COSTS, CostModel
from verify.core.schedule import Schedule
from verify.passes.index import index_schedule
from verify.sim.execute import unit_durations


def to_dag(schedule: Schedule, costs: CostModel = UNIT_COSTS) -> nx.DiGraph:
    """The dependency graph of ``schedule`` under ``costs`` (it has a cycle iff the
    schedule deadlocks: ``nx.is_directed_acyclic_graph`` is the deadlock-freedom check)."""
    index = index_schedule(schedule)
    dur = unit_durations(index, costs).tolist()
    g = nx.DiGraph()
    key = [(int(w), int(i)) for w, i in zip(index.unit_worker, index.unit_pos)]
    for u, (w, i) in enumerate(key):
        g.add_node((w, i), worker=w, action=str(schedule.programs[w][i]), duration=dur[u])
    for w in range(schedule.num_workers):
        units = index.worker_units(w)
        for a, b in itertools.pairwise(units):
            g.add_edge(key[a], key[b], why="order", latency=0.0)
    src, dst, _ = index.producers()
    for a, b in zip(src.tolist(), dst.tolist()):
        wa, wb = key[a][0], key[b][0]
        g.add_edge(key[a], key[b], why="data", latency=costs.latency_between(wa, wb))
    return g


def critical_path(g: nx.DiGraph) -> tuple[float, list[tuple[int, int]]]:
    """Length (the makespan of earliest-start execution) and units of a longest path.

    Raises ``networkx.NetworkXUnfeasible`` when the graph has a cycle (a deadlock).
    """
    finish: dict[tuple[int, int], float] = {}
    parent: dict[tuple[int, int], tuple[int, int] | None] = {}
    for v in nx.topological_sort(g):
        start, best = 0.0, None
        for u in g.predecessors(v):
            t = finish[u] + g.edges[u, v]["latency"]
            if t > start or (best is None and t == start):
                start, best = t, u
        finish[v] = start + g.nodes[v]["duration"]
        parent[v] = best
    if not finish:
        return 0.0, []
    end = max(finish, key=lambda v: (finish[v], v))
    path = [end]
    while parent[path[-1]] is not None:
        path.append(parent[path[-1]])  # type: ignore[arg-type]
    path.reverse()
    return finish[end], path
