"""The audit trail: every privileged act, append-only, queryable and exportable."""
