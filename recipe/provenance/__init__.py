"""Provenance across runs (`graph`: lineage, where a file came from, what depends on it,
staleness) and its standard exports (`exports`: W3C PROV and RO-Crate)."""
