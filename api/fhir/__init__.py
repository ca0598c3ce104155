"""FHIR R4 for the integration API: parsing and validation, references, the inbound mapping to intake commands,
the read views, and the registry of served resource types."""
