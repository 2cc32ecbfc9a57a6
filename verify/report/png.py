"""PNG rendering of timeline pictures: the SVG of :mod:`verify.report.svg`, rasterised
with `CairoSVG <https://pypi.org/project/CairoSVG/>`_ (an optional extra:
``pip install 'chimera-verify[png]'``; it needs the system's cairo library).
"""

from __future__ import annotations

from typing import Any

from verify.core.costs import UNIT_COSTS, CostModel
from verify.core.schedule import Schedule
from verify.report.deps import require
from verify.report.svg import render_svg

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def svg_to_png(svg: str, *, scale: float = 2.0) -> bytes:
    """Rasterise an SVG document; ``scale`` 2 gives a sharp picture on high-DPI screens.

    Raises :class:`verify.report.deps.MissingExtraError` when CairoSVG (or cairo) is
    not installed.
    """
    cairosvg: Any = require("cairosvg", extra="png", what="PNG output")
    data = cairosvg.svg2png(bytestring=svg.encode("utf-8"), scale=scale)
    if not isinstance(data, bytes) or not data.startswith(PNG_SIGNATURE):  # pragma: no cover
        raise RuntimeError("cairosvg did not return a PNG image")
    return data


def render_png(schedule: Schedule, costs: CostModel = UNIT_COSTS, *, scale: float = 2.0,
               **options: Any) -> bytes:
    """The timeline picture of ``schedule`` as PNG bytes (``options`` as for
    :func:`verify.report.svg.render_svg`)."""
    return svg_to_png(render_svg(schedule, costs, **options), scale=scale)
