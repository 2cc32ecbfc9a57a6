"""Stateless transformations of the core model (integer index, NetworkX DAG)."""
