"""Supervisor monitoring of live calls: listen, whisper, barge (issue #14)."""
