"""The two-person rule: a legal hard stop or a legal hold is lifted by two different people, each with a reason."""
