"""Communication deadlocks, explained as wait-for cycles between workers.

When a run gets stuck, every blocked worker waits in one action for one or more other
workers (the partner of a send or receive, the replicas of an allreduce, the peers of a
batch). A deadlock is a cycle in that graph; the report gives, for each knot, the
shortest cycle, i.e. a minimal set of workers and the action each one is blocked in::

    deadlock under rendezvous: worker 0 waits in 0SEND_F1 for worker 1, which waits in
    1SEND_B0 for worker 0

Workers blocked behind a cycle (or waiting for a partner that does not exist, which the
static checks report as unmatched) are counted but not listed. NetworkX is only used on
the stuck workers.
"""

from __future__ import annotations

import networkx as nx

from verify.checks.deadlock import shortest_cycle
from verify.comm.engine import Run, waits
from verify.core.actions import Action
from verify.core.results import Violation, ViolationKind


def explain_deadlocks(run: Run) -> list[Violation]:
    """One COMM_DEADLOCK violation per knot of mutually waiting workers."""
    if run.complete:
        return []
    ix = run.syncs.ix
    programs = ix.schedule.programs
    model = run.syncs.model.name
    graph = waits(run)
    g = nx.DiGraph()
    g.add_nodes_from(graph)
    label: dict[tuple[int, int], int] = {}
    for w, edges in graph.items():
        for v, act in edges:
            g.add_edge(w, v)
            label[(w, v)] = act
    out: list[Violation] = []
    knots = [c for c in nx.strongly_connected_components(g)
             if len(c) > 1 or any(g.has_edge(w, w) for w in c)]
    knots.sort(key=min)
    for knot in knots:
        cycle = shortest_cycle(g, set(knot))
        n = len(cycle)
        acts = [label[(cycle[j], cycle[(j + 1) % n])] for j in range(n)]
        where = [ix.where(a) for a in acts]
        actions: tuple[Action, ...] = tuple(programs[w][i] for w, i in where)
        parts = []
        for j in range(n):
            w, nxt = cycle[j], cycle[(j + 1) % n]
            target = "itself" if nxt == w else f"worker {nxt}"
            a = actions[j]
            lead = f"worker {w} waits in {a}" if j == 0 else f"which waits in {a}"
            parts.append(f"{lead} for {target}")
        behind = len(nx.ancestors(g, cycle[0]) - set(knot))
        tail = f" ({behind} more worker{'s' if behind != 1 else ''} blocked behind it)" if behind else ""
        out.append(Violation(
            ViolationKind.COMM_DEADLOCK,
            f"deadlock under {model}: " + ", ".join(parts) + tail,
            actions, tuple(cycle), positions=tuple(where)))
    return out
