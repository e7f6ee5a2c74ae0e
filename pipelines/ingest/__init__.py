"""The ingest path: raw Kafka batches → columns → the warehouse, with the worker that drives it."""
