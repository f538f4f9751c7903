"""Prefect tasks. Installed as ``modelswap.tasks``."""
