"""Ingest: a department's file becomes the next version of a shared dataset, or is refused whole.

One batch is one file for one dataset. Its way through the package:

1. **stage** (:mod:`exchange.ingest.stage`): read the file in Arrow batches whatever its format
   and encoding (:mod:`~exchange.ingest.read`), validate every row in bulk
   (:mod:`~exchange.ingest.validate`), resolve duplicate keys (:mod:`~exchange.ingest.duplicates`),
   write the accepted rows to a staging Parquet file and the rest to a quarantine
   (:mod:`~exchange.ingest.quarantine`), or refuse the batch (:mod:`~exchange.ingest.errors`).
2. **apply** (:mod:`~exchange.ingest.versions`, :mod:`~exchange.ingest.history`): the staged file
   and the previous snapshot make the next immutable snapshot and, in one transaction, the next
   dataset version and the serving tables.

Memory stays bounded by the batch size at every step: no file is ever held whole.
"""
