"""Compliance: who may be sent to, and when."""
