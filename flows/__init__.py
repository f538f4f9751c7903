"""Prefect flows (batch inference, regression, migration). Installed as ``modelswap.flows``."""
