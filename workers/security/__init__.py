"""Payload encryption: the AES-GCM codec, its keys, and the remote codec server for the Web UI."""
