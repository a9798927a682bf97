"""Amaranth components of the lela training engine."""
