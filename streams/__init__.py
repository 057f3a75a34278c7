"""Kafka: topic names and settings, the Faust app factory, orjson codecs, topic administration, one
topic reader, a publisher."""
