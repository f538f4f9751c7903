"""Generated Mage blocks and block templates. Installed as ``modelswap.mage_blocks``.

Generated from ``modelswap/mage.py`` (``modelswap mage render``); each block is committed twice, as a block of
the example pipeline and as a custom block template, because Mage reads the two from different folders. See
README.md beside this file.
"""
