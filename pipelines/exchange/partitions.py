"""One dynamic partition per batch (a department's file), never per record."""

import dagster as dg

from catalog.schema import Dataset


def partitions_name(dataset_code: str) -> str:
    return f"{dataset_code}_batches"


def batches_partitions(dataset: Dataset) -> dg.DynamicPartitionsDefinition:
    """The batches of one dataset; the partition key is the batch id."""
    return dg.DynamicPartitionsDefinition(name=partitions_name(dataset.code))
