"""The carecycle domain: entities, value types, pure rules and X12 codecs. No I/O beyond the store mapping."""
