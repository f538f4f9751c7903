"""Generated Mage blocks and block templates. Installed as ``modelswap.mage_blocks``."""
