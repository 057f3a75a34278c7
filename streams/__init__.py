"""Topic names and settings, the Faust app factory, orjson codecs, the payer chain."""
