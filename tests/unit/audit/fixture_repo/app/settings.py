import os

DEFAULT_MODEL = os.environ.get(
    "MODELSWAP_MODEL",
    "gemini-2.5-flash",
)
PROMPT_FORMAT = "llama3.1"
model_name = "qwen2.5"
PORTS = ["11434:11434", "8000:8000"]
