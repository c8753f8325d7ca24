"""A real OpenAI-compatible server for tests: ``transformers serve`` on 127.0.0.1, serving a tiny causal LM built
offline from a config (no hub), and a small proxy in front of it that injects failures.

The model is a two-layer Llama (hidden size 32) with random weights and a character-level ``tokenizers`` WordLevel
tokenizer wrapped in ``PreTrainedTokenizerFast`` with a Jinja chat template, so its answers are noise but every part
of the HTTP path is real: the server applies the chat template, generates, and answers with ``finish_reason`` and
``usage``. ``transformers serve <folder>`` pins the model, so requests must name it by the folder's path
(``LlmServer.model_id``).

Fixtures (registered in ``tests/conftest.py``): ``llm_server`` (one per test session) and ``flaky_proxy`` (one per
test). Building the model and starting the server takes about 20-40 s on a busy two-core machine.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

CHAT_TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}</s>{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)
SERVER_START_SECONDS = 180


def build_tiny_chat_model(folder: Path) -> Path:
    """Save a tiny Llama and a character-level tokenizer with a chat template into ``folder``; returns it."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    specials = ["<pad>", "<s>", "</s>", "<unk>", "<|system|>", "<|user|>", "<|assistant|>"]
    vocab = {token: i for i, token in enumerate(dict.fromkeys(specials + [chr(c) for c in range(32, 127)]))}
    tokenizer = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.Split(pattern="", behavior="isolated")  # one token per character
    tokenizer.decoder = decoders.Fuse()
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, bos_token="<s>", eos_token="</s>", pad_token="<pad>", unk_token="<unk>"
    )
    fast.chat_template = CHAT_TEMPLATE
    fast.save_pretrained(folder)
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(vocab), hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, max_position_embeddings=512, bos_token_id=1, eos_token_id=2, pad_token_id=0,
    )  # fmt: skip
    model = LlamaForCausalLM(config)
    model.generation_config = GenerationConfig(bos_token_id=1, eos_token_id=2, pad_token_id=0, max_new_tokens=16)
    model.save_pretrained(folder)
    return folder


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_healthy(url: str, proc: subprocess.Popen[Any], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"transformers serve exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                if answer.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.5)
    raise RuntimeError(f"transformers serve did not answer {url} within {timeout:.0f} s")


@dataclass(frozen=True)
class LlmServer:
    base_url: str
    """Where the OpenAI paths begin: ``http://127.0.0.1:<port>/v1``."""
    model_id: str
    """The name requests must give (the model folder's path: the server is pinned to it)."""
    log: Path


@pytest.fixture(scope="session")
def llm_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LlmServer]:
    """``transformers serve`` on a free port of 127.0.0.1, serving the tiny model on the CPU, for the session."""
    folder = build_tiny_chat_model(tmp_path_factory.mktemp("tiny-chat-model"))
    port = free_port()
    log = folder.parent / "transformers-serve.log"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "CUDA_VISIBLE_DEVICES": ""}
    executable = Path(sys.executable).with_name("transformers")
    with log.open("w") as out:
        proc = subprocess.Popen(
            [str(executable), "serve", str(folder), "--host", "127.0.0.1", "--port", str(port), "--device", "cpu",
             "--log-level", "warning"],
            env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        wait_healthy(f"http://127.0.0.1:{port}/health", proc, SERVER_START_SECONDS)
        yield LlmServer(base_url=f"http://127.0.0.1:{port}/v1", model_id=str(folder), log=log)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@dataclass
class FlakyProxy:
    """An HTTP proxy on 127.0.0.1 in front of ``upstream`` that fails on purpose.

    ``busy``: answer this many requests 429 (``Retry-After: 0``) before forwarding any. ``garbage_word``: a request
    whose last message contains it gets a 200 that is not JSON. ``hold_word``: a request whose last message contains
    it waits until ``released`` is set (``held`` is set once one waits): a run caught mid-request. Every request's
    body is kept in ``seen``.
    """

    upstream: str
    busy: int = 0
    garbage_word: str = ""
    hold_word: str = ""
    held: threading.Event = field(default_factory=threading.Event)
    released: threading.Event = field(default_factory=threading.Event)
    seen: list[dict[str, Any]] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    base_url: str = ""
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, path: str, body: bytes) -> tuple[int, dict[str, str], bytes]:
        payload = json.loads(body)
        with self._lock:
            self.seen.append(payload)
            if self.busy > 0:
                self.busy -= 1
                return 429, {"Retry-After": "0"}, b'{"error": {"message": "rate limited"}}'
        if self.garbage_word and self.garbage_word in payload["messages"][-1]["content"]:
            return 200, {}, b"<html>upstream hiccup</html>"
        if self.hold_word and self.hold_word in payload["messages"][-1]["content"]:
            self.held.set()
            self.released.wait(timeout=300)
        request = urllib.request.Request(
            self.upstream.rstrip("/") + path.removeprefix("/v1"), data=body,
            headers={"Content-Type": "application/json"}, method="POST",
        )  # fmt: skip
        try:
            with urllib.request.urlopen(request, timeout=120) as answer:
                return answer.status, {}, answer.read()
        except urllib.error.HTTPError as error:
            return error.code, {}, error.read()


@pytest.fixture
def flaky_proxy(llm_server: LlmServer) -> Iterator[FlakyProxy]:
    proxy = FlakyProxy(upstream=llm_server.base_url)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            status, headers, content = proxy.answer(self.path, body)
            with proxy._lock:
                proxy.statuses.append(status)
            self.send_response(status)
            for name, value in {"Content-Type": "application/json", **headers}.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(content)))
            self.end_headers()
            self.wfile.write(content)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    proxy.base_url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield proxy
    finally:
        server.shutdown()
        server.server_close()
