"""The fault matrix: real `campaign-dispatch` processes under injected faults.

The catalogue, and which test proves what: docs/reliability.md.
"""
