"""Domain services: each takes a UnitOfWork-owned Session and plain values, enforces the rules, and either
writes everything or raises a typed DomainError before the caller commits (so nothing is half-written)."""
