"""Everything that touches Faust's or aiokafka's internals, and nothing else: the patches to
Faust (patches.py; docs/operations.md says when to revisit them), its Prometheus monitor,
raw-bytes topics, the engine-state changelog written in record batches, and what /health
reads of the consumer's positions."""
