"""Specs: the published claims about each schedule family, as checkable files.

A spec (``specs/*.toml``, ``docs/library.md``) names a family, a grid of parameters,
cost models, and claimed properties: verdicts (complete, deadlock-free, conflict-free)
and closed forms in D, N and the costs (makespan, bubble ratio, idle time, peak
activations, weights, ...). :func:`check_spec` instantiates every grid point, runs the
verifier and compares every claim; formulas are read by the safe parser of
:mod:`verify.specs.expr`, never by ``eval``.

- :func:`is_spec_file`, :func:`collect_specs`, :func:`load_spec` - finding and reading
  specs (errors are located :class:`~verify.errors.ScheduleFormatError`);
- :func:`check_spec` - one :class:`~verify.core.results.Report` per instance;
- :mod:`verify.specs.quantities` - the measured quantities, :func:`p2p_messages` and the
  cost normalisation used by ``chimera-verify compare``.
"""

from verify.core.costs import normalized_costs, work_scale
from verify.specs.checker import check_instance, check_spec, instances
from verify.specs.loader import collect_specs, is_spec_file, load_spec, loads_spec
from verify.specs.model import Case, Claim, Formula, Instance, Mode, PropertyClaim, Spec
from verify.specs.quantities import measure, p2p_messages

__all__ = [
    "Case",
    "Claim",
    "Formula",
    "Instance",
    "Mode",
    "PropertyClaim",
    "Spec",
    "check_instance",
    "check_spec",
    "collect_specs",
    "instances",
    "is_spec_file",
    "load_spec",
    "loads_spec",
    "measure",
    "normalized_costs",
    "p2p_messages",
    "work_scale",
]
