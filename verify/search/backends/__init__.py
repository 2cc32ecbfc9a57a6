"""Solver backends of :mod:`verify.search`, one module each, registered by name in
:mod:`verify.search.backend` and imported only when used."""
