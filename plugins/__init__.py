"""Built-in provider kinds. Installed as ``modelswap.plugins``; each registers like a third-party plugin, under the
``modelswap.providers`` entry points, and is imported only when a provider of its kind is first used."""
