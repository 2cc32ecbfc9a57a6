"""Deadlock: a cycle of "must finish before" between ops, shown as the shortest cycle.

Edges are data dependencies (a consumer needs its producer's output) and program order
(a worker runs its program in order). The simulation finds in linear time whether some
units can never start; only those are handed to NetworkX, which finds for each
strongly connected knot the shortest cycle, printed op by op with the worker of each.
"""

from __future__ import annotations

from collections import deque

import networkx as nx

from verify.core.actions import Action
from verify.core.results import Violation, ViolationKind
from verify.sim.execute import Execution

_EXACT_LIMIT = 4000
"""Above this many units in one knot, BFS starts from a sample of its units only."""


def stuck_graph(execution: Execution) -> nx.DiGraph:
    """The dependency graph restricted to units that never ran; edge attribute
    ``why`` is ``"data"`` or ``"order"``."""
    index = execution.index
    stuck = set(execution.stuck)
    g = nx.DiGraph()
    g.add_nodes_from(stuck)
    uw = index.unit_worker
    for u in stuck:
        if u + 1 in stuck and uw[u + 1] == uw[u]:
            g.add_edge(u, u + 1, why="order")
    src, dst = execution.edges
    for a, b in zip(src.tolist(), dst.tolist()):
        if a in stuck and b in stuck:
            g.add_edge(a, b, why="data")
    return g


def shortest_cycle(g: nx.DiGraph, nodes: set[int]) -> list[int]:
    """Shortest directed cycle through the strongly connected ``nodes`` (BFS from each,
    successors in sorted order so that the answer is deterministic; a self-loop is a
    cycle of one)."""
    best: list[int] = []
    candidates = sorted(nodes)
    if len(candidates) > _EXACT_LIMIT:
        step = len(candidates) // _EXACT_LIMIT + 1
        candidates = candidates[::step]
    for s in candidates:
        if g.has_edge(s, s):
            return [s]
        parent = {s: -1}
        dist = {s: 0}
        q = deque([s])
        found = -1
        while q and found < 0:
            u = q.popleft()
            if best and dist[u] + 1 >= len(best):
                break
            for v in sorted(g.succ[u]):
                if v not in nodes:
                    continue
                if v == s:
                    found = u
                    break
                if v not in dist:
                    dist[v] = dist[u] + 1
                    parent[v] = u
                    q.append(v)
        if found >= 0:
            path = [found]
            while parent[path[-1]] != -1:
                path.append(parent[path[-1]])
            path.reverse()
            if not best or len(path) < len(best):
                best = path
    return best


def check_deadlock(execution: Execution) -> list[Violation]:
    """One DEADLOCK violation per knot of units that can never start, each with its
    shortest cycle: ``A waits for B (data), B waits for C (order), ...``."""
    if execution.complete:
        return []
    index = execution.index
    programs = index.schedule.programs
    g = stuck_graph(execution)
    out: list[Violation] = []
    knots = [c for c in nx.strongly_connected_components(g) if len(c) > 1]
    knots.sort(key=min)
    for knot in knots:
        cycle = shortest_cycle(g, set(knot))
        if not cycle:
            continue

        def label(u: int) -> str:
            w, i = int(index.unit_worker[u]), int(index.unit_pos[u])
            return f"{programs[w][i]} (worker {w})"

        steps = []
        n = len(cycle)
        # edge cycle[j] -> cycle[j+1] means cycle[j+1] waits for cycle[j]
        for j in range(n - 1, -1, -1):
            waiter, awaited = cycle[(j + 1) % n], cycle[j]
            why = g.edges[awaited, waiter]["why"]
            reason = "needs its output" if why == "data" else "runs after it in program order"
            steps.append(f"{label(waiter)} waits for {label(awaited)} [{reason}]")
        actions: tuple[Action, ...] = tuple(
            programs[int(index.unit_worker[u])][int(index.unit_pos[u])] for u in reversed(cycle)
        )
        workers = tuple(int(index.unit_worker[u]) for u in reversed(cycle))
        positions = tuple(
            (int(index.unit_worker[u]), int(index.unit_pos[u])) for u in reversed(cycle)
        )
        out.append(Violation(
            ViolationKind.DEADLOCK,
            f"cycle of {n} ops ({len(execution.stuck)} ops can never start): "
            + "; ".join(steps),
            actions, workers, positions=positions))
    if not out:  # cannot happen: stuck units always contain a cycle
        raise RuntimeError("stuck units without a cycle")
    return out
