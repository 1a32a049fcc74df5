"""Simulated SIP phones (agents + customer line) running pjsua2 in a separate process."""
