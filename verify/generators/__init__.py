"""Schedule generators: one module per family, each a pure function
``(stages, microbatches, **options) -> Schedule`` registered by name."""

from verify.generators import chimera as _chimera  # noqa: F401  (registers)
from verify.generators import chimera_variants as _chimera_variants  # noqa: F401
from verify.generators import classic as _classic  # noqa: F401
from verify.generators import dualpipe as _dualpipe  # noqa: F401
from verify.generators import hanayo as _hanayo  # noqa: F401
from verify.generators import interleaved as _interleaved  # noqa: F401
from verify.generators import zero_bubble as _zero_bubble  # noqa: F401
from verify.generators.registry import Family, families, family, generate, register

__all__ = ["Family", "families", "family", "generate", "register"]
