"""Schedule generators: one module per family, each a pure function
``(stages, microbatches, **options) -> Schedule`` registered by name."""

from verify.generators import chimera as _chimera  # noqa: F401  (registers)
from verify.generators import classic as _classic  # noqa: F401  (registers)
from verify.generators.registry import Family, families, family, generate, register

__all__ = ["Family", "families", "family", "generate", "register"]
