"""Dagster definitions of the exchange domain: one asset per dataset, partitioned by batch."""
