"""A review pipeline written before modelswap: its model dependencies, hard-coded and not."""
import os

from openai import OpenAI

MODEL = "gpt-4o-mini"
FALLBACK = os.environ.get("FALLBACK_MODEL", "claude-3-5-haiku-20241022")
EMBEDDINGS = os.getenv("EMBED_MODEL") or "text-embedding-3-small"
# MODEL = "gpt-3.5-turbo"  (the model before)
client = OpenAI(base_url="https://api.openai.com/v1", api_key="sk-proj-THIS-IS-A-FAKE-KEY-modelswap-audit-fixture")
headers = {"Authorization": "Bearer FAKE-token-for-modelswap-audit-tests"}
OLLAMA_URL = "http://localhost:11434/api/chat"
LOCAL_WEIGHTS = "/models/gemma-3-270m-it-Q4_K_M.gguf"
GROQ_MODEL = "llama-3.1-8b-instant"  # the fast one
HF_MODEL = "meta-llama/Llama-3.1-8B-Instruct"
os.environ["MODEL_ID"] = "mistral-large-latest"
ENDPOINT = os.environ.get("INFERENCE_ENDPOINT", "http://vllm.ml.svc:8000/v1")
DISK_MONITOR = "disk-usage-monitor-daemon-process"
RETRIES = 3  # gpt-4o used to time out


def summarize(text: str) -> str:
    print("GPT-4 summaries were better")
    reply = client.chat.completions.create(model="o3-mini", messages=[{"role": "user", "content": text}])
    return reply.choices[0].message.content


def label(text: str) -> str:
    reply = client.chat.completions.create(model="o1", messages=[{"role": "user", "content": text}])
    return reply.choices[0].message.content


LLAMA_TEMPLATE = "<|start_header_id|>user<|end_header_id|>\n\n{text}<|eot_id|>"
