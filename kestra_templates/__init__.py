"""Generated Kestra flow YAML. Installed as ``modelswap.kestra_templates``."""
