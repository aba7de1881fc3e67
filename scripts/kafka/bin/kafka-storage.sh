#!/bin/bash
# Kafka's own kafka-storage.sh: runs kafka.tools.StorageTool with the jars in ../libs.
exec "$(dirname "${BASH_SOURCE[0]}")/kafka-run-class.sh" kafka.tools.StorageTool "$@"
