"""Alert rules: declarative, validated data and a pure engine with no Kafka in it."""
