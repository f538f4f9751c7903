# Re-included by `!keep.local.py` in .gitignore, so it is audited.
JUDGE_MODEL = "mistral-small-latest"
