"""Dagster definitions of the catalogue domain."""
