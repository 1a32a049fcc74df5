"""Operations: Prometheus metrics of a composed service (docs/OPERATIONS.md)."""
