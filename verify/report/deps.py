"""Optional dependencies of the renderers, imported when first needed.

A missing extra is a "could not render" error with the command that fixes it, which the
CLI prints as one line (exit code 2), never an ``ImportError`` traceback.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from verify.errors import ChimeraVerifyError


class MissingExtraError(ChimeraVerifyError, ImportError):
    """An optional library needed for an output format is not installed (or cannot load
    its system library)."""


def require(module: str, *, extra: str | None, what: str) -> ModuleType:
    """Import ``module`` or raise :class:`MissingExtraError` naming what to install:
    the extra ``chimera-verify[extra]``, or (``extra=None``, a regular dependency that
    went missing) the package itself.

    >>> require("json", extra="none", what="JSON").__name__
    'json'
    >>> require("no_such_module_here", extra="png", what="PNG output")
    Traceback (most recent call last):
    ...
    verify.report.deps.MissingExtraError: PNG output needs no_such_module_here: pip install ...
    """
    try:
        return importlib.import_module(module)
    except (ImportError, OSError) as e:  # cairosvg raises OSError when libcairo is absent
        fix = f"pip install 'chimera-verify[{extra}]'" if extra else f"pip install {module}"
        raise MissingExtraError(f"{what} needs {module}: {fix} ({type(e).__name__}: {e})") from None
