#!/usr/bin/env python3
"""Regenerate the golden outputs in tests/data/contracts/golden/ by running the SHARED checkers: the reference
implementation the kit in this folder must reproduce (test_kit_matches_reference.py compares the two).

usage:
  python tests/contracts_kit/make_goldens.py SHARED_DIR [--record LOG.jsonl ...]
      Runs SHARED_DIR/check_request.py and check_response.py, as subprocesses, on
        examples.json   every example file under tests/data/contracts/examples, with the argument combinations
                        the project's tests use (profiles, Anthropic versions, statuses and headers of errors, ...)
        recorded.json   the invocations the project's tests made (their inputs kept inline); --record adds the
                        lines of a log written by the recording shim below, existing cases are re-run
        synthetic.json  hand-written inputs for the code paths no example reaches (SYNTHETIC below)
  python tests/contracts_kit/make_goldens.py --shim SHARED_DIR OUT_DIR LOG.jsonl
      Writes OUT_DIR laid out like SHARED_DIR (symlinks) whose check_*.py log every invocation to LOG.jsonl and
      then run the shared script. Point the tests' CONTRACTS at OUT_DIR, run them, then pass LOG.jsonl to --record.
Each case runs in a scratch folder holding `examples` (a link to tests/data/contracts/examples) and its inline
inputs under `in/`, so the paths in the output are the same wherever it runs.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path

DATA = Path(__file__).resolve().parents[1] / "data" / "contracts"
EXAMPLES = DATA / "examples"
GOLDEN = DATA / "golden"
PROFILES = ["openai", "groq", "together", "vllm", "llamacpp", "ollama", "tgi", "openrouter"]
ANTHROPIC_VERSIONS = ["2023-06-01", "2026-10-21"]


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# -- the cases ----------------------------------------------------------------------------------------------------
def case(script: str, args: list[str], inputs: dict[str, str] | None = None, **extra) -> dict:
    inputs = inputs or {}
    label = " ".join(args)
    if inputs:
        label += " #" + sha256(json.dumps(inputs, sort_keys=True).encode())[:10]
    return {"id": f"{script[:-3]} {label}", "script": script, "args": args, "inputs": inputs, **extra}


def _status(path: Path) -> list[int]:
    """The statuses an error example is checked with: the one in its name (else 400) and its body's int code."""
    found = [int(t) for t in path.name.split(".")[0].split("-") if t.isdigit() and len(t) == 3][:1] or [400]
    error = json.loads(path.read_text(encoding="utf-8")).get("error")
    code = error.get("code") if isinstance(error, dict) else None
    if isinstance(code, int) and code not in found:
        found.append(code)
    return found


def example_cases() -> list[dict]:
    cases = []
    for path in sorted(EXAMPLES.rglob("*")):
        if not path.is_file() or path.name == "PROVENANCE.json" or ".headers." in path.name:
            continue
        api, rel = path.parent.name, path.relative_to(DATA).as_posix()
        if path.name.endswith(".request.json"):
            variants = ([["--profile", p] for p in PROFILES] if api.startswith("openai")
                        else [["--anthropic-version", v] for v in ANTHROPIC_VERSIONS] if api == "anthropic-messages"
                        else [[]])
            for v in variants:
                cases.append(case("check_request.py", ["--api", api, *v, rel]))
            first = variants[0]
            cases.append(case("check_request.py", ["--api", api, *first, "--json", rel]))
            cases.append(case("check_request.py", ["--api", api, *first, "--strict", rel]))
            continue
        apis = [api, "vertex-generate"] if api == "gemini-generate" else [api]
        variants = ([["--profile", p] for p in PROFILES] if api.startswith("openai")
                    else [["--anthropic-version", v] for v in ANTHROPIC_VERSIONS] if api == "anthropic-messages"
                    else [[]])
        extras = [[]]
        if ".error." in path.name:
            headers = path.with_name(path.name.split(".response.")[0] + ".headers.json")
            for status in _status(path):
                extras.append(["--status", str(status)])
                if headers.is_file():
                    extras.append(["--status", str(status), "--headers", headers.relative_to(DATA).as_posix()])
        for a in apis:
            for v in variants:
                for x in extras:
                    cases.append(case("check_response.py", ["--api", a, *v, *x, "--json", rel]))
            cases.append(case("check_response.py", ["--api", a, rel]))  # the text output, default options
    return cases


def _sse(*events) -> str:
    return "".join(f"data: {e if isinstance(e, str) else json.dumps(e)}\n\n" for e in events)


ANTHROPIC_OK = [
    {"type": "message_start", "message": {"id": "m", "type": "message", "role": "assistant", "model": "c", "content": [],
                                          "stop_reason": None, "stop_sequence": None,
                                          "usage": {"input_tokens": 3, "output_tokens": 1}}},
    {"type": "content_block_start", "index": 0, "content_block": {"type": "tool_use", "id": "t1", "name": "f", "input": {}}},
    {"type": "content_block_delta", "index": 0, "delta": {"type": "input_json_delta", "partial_json": "{\"a\": "}},
    {"type": "content_block_delta", "index": 0, "delta": {"type": "input_json_delta", "partial_json": "1"}},
    {"type": "content_block_stop", "index": 0},
    {"type": "message_delta", "delta": {"stop_reason": "tool_use", "stop_sequence": None}, "usage": {"output_tokens": 9}},
    {"type": "message_stop"},
]
# (script, args before the input file, the input file's text, optional headers text)
SYNTHETIC = [
    # requests: a body that is not an object, one that is not JSON (exit 2), lints no example reaches
    ("check_request.py", ["--api", "openai-chat"], "[1, 2]", None),
    ("check_request.py", ["--api", "openai-chat"], "{not json", None),
    ("check_request.py", ["--api", "openai-chat", "--profile", "groq", "--strict"], json.dumps(
        {"model": "m", "messages": [{"role": "user", "content": "x", "name": "n"}, {"role": "assistant"},
                                    {"role": "tool", "content": "r"}],
         "logprobs": True, "n": 2, "temperature": 0, "stream": True, "max_tokens": 3, "max_completion_tokens": 3}), None),
    ("check_request.py", ["--api", "openai-chat", "--profile", "tgi"], json.dumps(
        {"model": "m", "messages": [{"role": "developer", "content": "x"}], "max_completion_tokens": 5,
         "stream_options": {"include_usage": True}, "made_up": 1}), None),
    ("check_request.py", ["--api", "openai-chat", "--profile", "llamacpp"], json.dumps(
        {"model": "m", "messages": [{"role": "developer", "content": "x"}], "n_predict": 5, "cache_prompt": True,
         "made_up": 1}), None),
    ("check_request.py", ["--api", "openai-completions", "--profile", "llamacpp"], json.dumps(
        {"model": "m", "prompt": "x", "n_predict": 5, "made_up": 1}), None),
    ("check_request.py", ["--api", "anthropic-messages", "--anthropic-version", "2026-10-21", "--json"], json.dumps(
        {"model": "c", "max_tokens": 5, "temperature": 1.5, "top_p": 0.5, "top_k": 3, "stop": ["x"],
         "max_completion_tokens": 5, "messages": [
             {"role": "system", "content": "s"}, {"role": "user", "content": ""},
             {"role": "user", "content": [{"type": "text", "text": ""}, {"type": "image_url", "image_url": {}}]},
             {"role": "assistant", "content": ""}]}), None),
    ("check_request.py", ["--api", "gemini-generate"], json.dumps(
        {"contents": [{"role": "system", "parts": []}], "generationConfig": {"stopSequences": list("abcdef")},
         "generation_config": {}}), None),
    ("check_request.py", ["--api", "vertex-generate"], json.dumps({"contents": []}), None),
    ("check_request.py", ["--api", "ollama-chat", "--json"], json.dumps(
        {"model": "m", "max_tokens": 1, "top_k": 2, "options": {"max_new_tokens": 3, "stop_sequences": []},
         "messages": [{"role": "user", "content": [{"type": "text"}], "images": ["data:image/png;base64,AA"],
                       "tool_calls": [{"function": {"name": "f", "arguments": "{}"}}]}]}), None),
    ("check_request.py", ["--api", "ollama-generate"], json.dumps(
        {"model": "m", "prompt": "<|im_start|>user", "stream": False}), None),
    ("check_request.py", ["--api", "ollama-generate"], json.dumps(
        {"model": "m", "prompt": "x", "raw": True, "system": "s", "stream": False}), None),
    ("check_request.py", ["--api", "llamacpp-completion", "--strict"], json.dumps(
        {"prompt": "<bos>hi", "max_tokens": 2, "n_predict": 2, "unknown_key": 1}), None),
    ("check_request.py", ["--api", "tgi-generate"], json.dumps(
        {"inputs": "x", "max_tokens": 1, "parameters": {"stop_sequences": ["a"]}}), None),
    # schema messages: cut at 300 characters, at most 25 errors, anyOf failures explained by the non-null branch
    ("check_request.py", ["--api", "openai-chat", "--json"], json.dumps(
        {"model": "m", "messages": "x" * 400, "temperature": "y" * 240, "user": 5}), None),
    ("check_request.py", ["--api", "ollama-generate", "--json"], json.dumps(
        {"model": "m", "stream": False, "images": [i for i in range(30)], "options": {"temperature": "hot"}}), None),
    ("check_response.py", ["--api", "openai-chat", "--json"], json.dumps(
        {"id": "c", "object": "chat.completion", "created": 1, "model": "m", "choices": [
            {"index": 0, "finish_reason": "stop", "logprobs": None,
             "message": {"role": "assistant", "content": 5, "refusal": None}}],
         "usage": {"prompt_tokens": "z" * 260, "completion_tokens": None, "total_tokens": 1}}), None),
    # responses: framing and stream endings
    ("check_response.py", ["--api", "openai-chat", "--json"], _sse(
        {"choices": [{"index": 0, "delta": {"tool_calls": [{"index": 1, "id": "b", "function": {"name": "g", "arguments": "{}"}}]}}]},
        {"choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "id": "a", "function": {"name": "f", "arguments": "{\"x\""}}]}}]},
        {"choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"arguments": ": 1}"}}]}}]},
        {"choices": [{"index": 1, "delta": {"content": "other choice"}}]},
        {"choices": [{"index": 0, "delta": {"reasoning_content": "think"}, "finish_reason": "tool_calls"}]},
        "[DONE]", {"choices": []}, "not json"), None),
    ("check_response.py", ["--api", "openai-chat"],
     ': OPENROUTER PROCESSING\r\n\r\ndata: {"choices": []}\r\n\r\ndata: [DONE]', None),
    ("check_response.py", ["--api", "openai-completions", "--profile", "vllm", "--json"],
     '{"error": {"message": "m", "type": "BadRequestError", "code": 400}}', None),
    ("check_response.py", ["--api", "openai-chat", "--profile", "groq", "--status", "200", "--json"],
     '{"error": "plain string", "error_type": "validation"}', None),
    ("check_response.py", ["--api", "openai-chat", "--status", "500", "--json"], '{"choices": []}', None),
    ("check_response.py", ["--api", "openai-chat", "--json"], '[{"a": 1}]', None),
    ("check_response.py", ["--api", "openai-chat", "--json"], "hello there", None),
    ("check_response.py", ["--api", "openai-chat", "--json"], '{"x": 1}\n{"y": 2}\n', None),
    ("check_response.py", ["--api", "ollama-chat", "--json"], _sse({"done": True}), None),
    ("check_response.py", ["--api", "anthropic-messages", "--json"], "".join(
        f"event: {e['type']}\ndata: {json.dumps(e)}\n\n" for e in ANTHROPIC_OK), None),
    ("check_response.py", ["--api", "anthropic-messages", "--json"], "".join(
        f"event: {'ping' if e['type'] == 'message_stop' else e['type']}\ndata: {json.dumps(e)}\n\n"
        for e in ANTHROPIC_OK[:3] + [{"type": "content_block_delta", "index": 5, "delta": {"type": "text_delta", "text": "x"}},
                                     ANTHROPIC_OK[4], ANTHROPIC_OK[6]]) + "data: {broken", None),
    ("check_response.py", ["--api", "anthropic-messages", "--anthropic-version", "2026-10-21", "--json"],
     '{"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}, "request_id": "r"}', None),
    ("check_response.py", ["--api", "gemini-generate", "--json"], json.dumps([
        {"candidates": [{"content": {"parts": [{"text": "plan", "thought": True}, {"text": "hi"},
                                               {"functionCall": {"name": "f", "args": {"a": 1}}}]}}]},
        {"error": {"code": 429, "message": "quota", "status": "RESOURCE_EXHAUSTED", "details": [
            {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "1m30.5s"}]}}]), None),
    ("check_response.py", ["--api", "vertex-generate", "--json"], "data: {\"candidates\": []}\r\n\r\ndata: nope\r\n\r\n", None),
    ("check_response.py", ["--api", "ollama-generate", "--json"], "\n".join(json.dumps(x) for x in [
        {"model": "m", "created_at": "t", "response": "a", "thinking": "t", "done": True, "done_reason": "stop"},
        {"model": "m", "created_at": "t", "response": "b", "done": False}, "{oops"]) + "\n", None),
    ("check_response.py", ["--api", "ollama-chat", "--json"], json.dumps(
        {"model": "m", "created_at": "t", "message": {"role": "assistant", "content": "x"}, "done": False}), None),
    ("check_response.py", ["--api", "llamacpp-completion", "--json"], _sse(
        {"content": "a", "stop": False}, "[DONE]", "{bad", {"content": "", "stop": True, "stop_type": "eos",
                                                            "timings": {"prompt_n": 4, "predicted_n": 1, "cache_n": 2}}),
     None),
    ("check_response.py", ["--api", "tgi-generate", "--json"], _sse(
        {"index": 1, "token": {"id": 1, "text": "a", "logprob": 0, "special": False}, "generated_text": None, "details": None},
        "{bad"), None),
    ("check_response.py", ["--api", "tgi-generate", "--json"], json.dumps(
        {"generated_text": "x", "details": {"finish_reason": "length", "generated_tokens": 1, "seed": None,
                                            "prefill": [{"id": 1, "text": "a", "logprob": None}], "tokens": []}}), None),
    ("check_response.py", ["--api", "openai-chat", "--status", "429", "--json"],
     '{"error": {"message": "slow", "type": "requests", "code": "rate_limit_exceeded"}}',
     "HTTP/1.1 429 Too Many Requests\nRetry-After-Ms: 1500\nx-ratelimit-reset-requests: 6m0s\n"  # raw lines
     + "x-ratelimit-reset-tokens: 76ms\nx-ratelimit-reset-x: 1h2m3.4s\nx-ratelimit-reset-y: nonsense\n"
     + "X-Should-Retry: false\nanthropic-ratelimit-tokens-reset: 2026-01-01T00:00:07Z\nother: ignored\n"),
    ("check_response.py", ["--api", "openai-chat", "--status", "429", "--json"],
     '{"error": {"message": "slow", "type": "requests", "code": null}}', '{"retry-after-ms": "soon", "retry-after": 2}'),
]


def synthetic_cases() -> list[dict]:
    cases = []
    for script, args, text, headers in SYNTHETIC:
        name = "in/body.json" if script == "check_request.py" else "in/response.txt"
        inputs = {name: text}
        extra = []
        if headers is not None:
            inputs["in/headers.txt"] = headers
            extra = ["--headers", "in/headers.txt"]
        cases.append(case(script, [*args, *extra, name], inputs))
    return cases


def recorded_cases(logs: list[Path]) -> list[dict]:
    """Cases already in recorded.json plus those in the logs of the recording shim, one per distinct invocation."""
    found: dict[str, dict] = {}
    old = GOLDEN / "recorded.json"
    if old.is_file():
        for c in json.loads(old.read_text(encoding="utf-8"))["cases"]:
            found[c["id"]] = case(c["script"], c["args"], c["inputs"], tests=c.get("tests", []))
    for log in logs:
        for line in log.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            args, inputs = [], {}
            for a in row["args"]:
                if isinstance(a, str):
                    args.append(a)
                elif "example" in a:
                    args.append(a["example"])
                else:
                    args.append(f"in/{a['file']}")
                    inputs[f"in/{a['file']}"] = a["content"]
            c = case(row["script"], args, inputs)
            c = found.setdefault(c["id"], {**c, "tests": []})
            test = row.get("test", "").rsplit(" (", 1)[0]
            if test and test not in c["tests"]:
                c["tests"].append(test)
    return list(found.values())


# -- running the reference ----------------------------------------------------------------------------------------
def workspace(c: dict, root: Path) -> Path:
    """A scratch folder where the case's relative paths resolve: `examples` and its inline inputs."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "examples").symlink_to(EXAMPLES, target_is_directory=True)
    for name, text in c["inputs"].items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")
    return root


def outcome(c: dict, code: int, stdout: str, stderr: str) -> dict:
    """The fields recorded from one run (test_kit_matches_reference.py compares the kit's on the same)."""
    result: dict = {"exit": code}
    if "--json" in c["args"] and code != 2:
        result["json"] = json.loads(stdout)
    else:
        result["stdout"] = stdout.splitlines()
    if stderr:
        result["stderr"] = stderr.splitlines()
    return result


def _retry_after_is_a_date(c: dict, scratch: Path) -> bool:
    if "--headers" not in c["args"]:
        return False
    text = (scratch / c["args"][c["args"].index("--headers") + 1]).read_text(encoding="utf-8").strip()
    if text.startswith("{"):
        headers = {k.lower(): str(v) for k, v in json.loads(text).items()}
    else:
        headers = {k.strip().lower(): v.strip() for k, _, v in (l.partition(":") for l in text.splitlines()) if _}
    try:
        float(headers.get("retry-after", "0"))
        return False
    except ValueError:
        return True


def _sampling_warnings(result: dict) -> int:
    """The shared check_request warns about Anthropic's removed sampling keys walking a set: with two or more, the
    order of those warnings follows Python's string hashing (PYTHONHASHSEED), so the case compares unordered."""
    text = json.dumps(result.get("json")) + "\n".join(result.get("stdout", []))
    return text.count("sampling parameter exists for anthropic-version 2023-06-01")


def run_shared(shared: Path, c: dict) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        scratch = workspace(c, Path(tmp))
        argv = [sys.executable, str(shared / c["script"]), *c["args"]]
        ran_at = time.time()
        run = subprocess.run(argv, cwd=scratch, capture_output=True, text=True, timeout=120, check=False)
        result = outcome(c, run.returncode, run.stdout, run.stderr)
        if _sampling_warnings(result) > 1:
            result["unordered"] = True
        if _retry_after_is_a_date(c, scratch):
            result["time_dependent"] = True  # retry_after_s counts down to the HTTP date
            result["ran_at"] = round(ran_at, 3)
    return {**c, **result}


def write(name: str, cases: list[dict], shared: Path, started: float) -> None:
    """One case per line (compact, and a diff shows which cases moved)."""
    GOLDEN.mkdir(parents=True, exist_ok=True)
    used = sorted({a for c in cases for a in c["args"] if a.startswith("examples/")})
    head = {
        "about": "outputs of the shared contracts checkers (the reference), replayed by tests/contracts_kit/"
                 "test_kit_matches_reference.py against the kit; regenerate with tests/contracts_kit/make_goldens.py",
        "reference": "the project's shared contracts folder (../shared/contracts)",
        "reference_sha256": {s: sha256((shared / s).read_bytes())
                             for s in ("check_request.py", "check_response.py", "contracts_lib.py")},
        "generated_on": time.strftime("%Y-%m-%d", time.gmtime(started)),
        "environment": {"python": sys.version.split()[0], "jsonschema": metadata.version("jsonschema")},
        "example_sha256": {a: sha256((DATA / a).read_bytes()) for a in used},
    }
    lines = [json.dumps(c, ensure_ascii=False, separators=(",", ":")) for c in sorted(cases, key=lambda c: c["id"])]
    text = json.dumps(head, indent=1, ensure_ascii=False)[:-2] + ',\n "cases": [\n' + ",\n".join(lines) + "\n ]\n}\n"
    json.loads(text)
    (GOLDEN / name).write_text(text, encoding="utf-8")
    print(f"{name}: {len(cases)} cases")


def make_shim(shared: Path, out: Path, log: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for entry in shared.iterdir():
        if entry.name not in ("check_request.py", "check_response.py") and not (out / entry.name).exists():
            (out / entry.name).symlink_to(entry.resolve())
    shim = f'''import fcntl, json, os, runpy, sys
from pathlib import Path
REAL, LOG = Path({str(shared.resolve())!r}), Path({str(log.resolve())!r})
args = []
for a in sys.argv[1:]:
    p = Path(a)
    if a.startswith("--") or not p.is_file():
        args.append(a)
    elif str(p.resolve()).startswith(str(REAL / "examples")):
        args.append({{"example": p.resolve().relative_to(REAL).as_posix()}})
    else:
        args.append({{"file": p.name, "content": p.read_text(encoding="utf-8")}})
with open(LOG, "a") as f:
    fcntl.flock(f, fcntl.LOCK_EX)
    f.write(json.dumps({{"script": Path(__file__).name, "args": args,
                        "test": os.environ.get("PYTEST_CURRENT_TEST", "")}}) + "\\n")
sys.argv[0] = str(REAL / Path(__file__).name)
runpy.run_path(sys.argv[0], run_name="__main__")
'''
    for script in ("check_request.py", "check_response.py"):
        (out / script).write_text(shim, encoding="utf-8")
    print(f"recording layout in {out}; invocations go to {log}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("shared", type=Path, help="the shared contracts folder (with check_request.py)")
    ap.add_argument("--record", type=Path, action="append", default=[], help="a log of the recording shim")
    ap.add_argument("--shim", nargs=2, type=Path, metavar=("OUT_DIR", "LOG"), help="write a recording layout")
    a = ap.parse_args(argv)
    shared = a.shared.resolve()
    if not (shared / "check_request.py").is_file():
        print(f"{shared}: no check_request.py", file=sys.stderr)
        return 2
    if a.shim:
        make_shim(shared, *a.shim)
        return 0
    started = time.time()
    groups = {"examples.json": example_cases(), "recorded.json": recorded_cases(a.record),
              "synthetic.json": synthetic_cases()}
    with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        for name, cases in groups.items():
            write(name, list(pool.map(lambda c: run_shared(shared, c), cases)), shared, started)
    return 0


if __name__ == "__main__":
    sys.exit(main())
