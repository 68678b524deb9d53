#!/usr/bin/env python3
"""A stand-in for the model APIs of the AI CLIs: every answer reports the
same fixed usage, so a CLI run against it reports exactly these figures in
its telemetry, offline.

usage: stand_in.py LOG WORD
  LOG   a file that receives one JSON line per request: its path and
        model, the tool result it carries (as JSON text) if any, and what
        was answered (`tool_call`, `text`, `json`, `not_found`), for the
        test to read what the CLI asked
  WORD  the argument of the one shell command the stand-in asks for

A request that offers a shell tool and carries no tool result yet is
answered with a call of `echo WORD`, so the CLI runs a tool and sends its
result in a second request; a request that asks for JSON of a schema (Gemini
CLI's model router) gets an object of that schema; every other request gets
a short text. Prints its port (on 127.0.0.1) as the first line of stdout,
then serves until killed.

APIs:
  POST …/v1/messages                          Anthropic Messages (SSE when "stream")
  POST …/responses                            OpenAI Responses (SSE)
  POST …/models/M:generateContent             Gemini
  POST …/models/M:streamGenerateContent       Gemini (SSE)
"""

import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

REPLY = "Done."

# The usage every answer reports; mod.rs beside this file says what aitrail
# must make of it.
ANTHROPIC_USAGE = {
    "input_tokens": 11,
    "cache_read_input_tokens": 1000,
    "cache_creation_input_tokens": 7,
    "output_tokens": 42,
}
OPENAI_USAGE = {
    "input_tokens": 1200,
    "input_tokens_details": {"cached_tokens": 1000, "cache_write_tokens": 50},
    "output_tokens": 80,
    "output_tokens_details": {"reasoning_tokens": 30},
    "total_tokens": 1280,
}
GEMINI_USAGE = {
    "promptTokenCount": 1300,
    "cachedContentTokenCount": 1100,
    "candidatesTokenCount": 60,
    "thoughtsTokenCount": 25,
    "totalTokenCount": 1385,
}

# The shell tools the CLIs offer, by name, with the arguments of `echo WORD`.
SHELL_TOOLS = {
    "Bash": lambda word: {"command": f"echo {word}", "description": "Print a word"},
    "exec_command": lambda word: {"cmd": f"echo {word}"},
    "run_shell_command": lambda word: {"command": f"echo {word}", "description": "Print a word"},
}


def offered_shell(names):
    """The first shell tool among the offered tool names, if any."""
    return next((name for name in names if name in SHELL_TOOLS), None)


def instance(schema):
    """A small value of a JSON schema (OpenAPI types, as Gemini writes them)."""
    kind = str(schema.get("type", "object")).lower()
    if "enum" in schema:
        return schema["enum"][0]
    if kind == "object":
        return {key: instance(value) for key, value in schema.get("properties", {}).items()}
    if kind == "array":
        return []
    if kind in ("integer", "number"):
        return 10
    if kind == "boolean":
        return False
    return REPLY


class StandIn(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    log_path = None
    word = None

    def log_message(self, format, *args):
        pass

    def body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0], 16)
                if size == 0:
                    self.rfile.readline()
                    return data
                data += self.rfile.read(size)
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def record(self, answered, model=None, tool_results=()):
        results = json.dumps(tool_results) if tool_results else None
        line = {"path": self.path, "model": model, "tool_result": results, "answered": answered}
        with open(self.log_path, "a") as log:
            log.write(json.dumps(line) + "\n")

    def do_GET(self):
        self.not_found()

    def do_POST(self):
        data = self.body()
        try:
            request = json.loads(data) if data else {}
        except ValueError:
            request = {"unparsed": data.decode("utf-8", "replace")}
        path = self.path.split("?")[0]
        if path.endswith("/v1/messages"):
            self.anthropic(request)
        elif path.endswith("/responses"):
            self.openai(request)
        elif ":streamGenerateContent" in path:
            self.gemini(path, request, stream=True)
        elif ":generateContent" in path:
            self.gemini(path, request, stream=False)
        else:
            self.not_found()

    def not_found(self):
        self.record("not_found")
        self.json(404, {"error": {"message": "not served by the stand-in"}})

    def json(self, status, document):
        data = json.dumps(document).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def sse(self, events):
        data = b"".join(
            (f"event: {name}\n" if name else "").encode() + b"data: " + json.dumps(payload).encode() + b"\n\n"
            for name, payload in events
        )
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def anthropic(self, request):
        results = [
            part
            for message in request.get("messages", [])
            if isinstance(message.get("content"), list)
            for part in message["content"]
            if isinstance(part, dict) and part.get("type") == "tool_result"
        ]
        tool = None if results else offered_shell(t.get("name") for t in request.get("tools", []))
        if tool:
            block = {"type": "tool_use", "id": "toolu_stand_in", "name": tool, "input": SHELL_TOOLS[tool](self.word)}
            stop = "tool_use"
        else:
            block = {"type": "text", "text": REPLY}
            stop = "end_turn"
        self.record("tool_call" if tool else "text", request.get("model"), results)
        message = {
            "id": "msg_stand_in",
            "type": "message",
            "role": "assistant",
            "model": request.get("model"),
            "content": [block],
            "stop_reason": stop,
            "stop_sequence": None,
            "usage": ANTHROPIC_USAGE,
        }
        if not request.get("stream"):
            self.json(200, message)
            return
        if tool:
            start_block = dict(block, input={})
            delta = {"type": "input_json_delta", "partial_json": json.dumps(block["input"])}
        else:
            start_block = dict(block, text="")
            delta = {"type": "text_delta", "text": REPLY}
        started = dict(message, content=[], stop_reason=None, usage=dict(ANTHROPIC_USAGE, output_tokens=1))
        self.sse(
            [
                ("message_start", {"type": "message_start", "message": started}),
                ("content_block_start", {"type": "content_block_start", "index": 0, "content_block": start_block}),
                ("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": delta}),
                ("content_block_stop", {"type": "content_block_stop", "index": 0}),
                (
                    "message_delta",
                    {
                        "type": "message_delta",
                        "delta": {"stop_reason": stop, "stop_sequence": None},
                        "usage": {"output_tokens": ANTHROPIC_USAGE["output_tokens"]},
                    },
                ),
                ("message_stop", {"type": "message_stop"}),
            ]
        )

    def openai(self, request):
        items = request.get("input", [])
        results = [i for i in items if isinstance(i, dict) and i.get("type") == "function_call_output"]
        tool = None if results else offered_shell(t.get("name") for t in request.get("tools", []))
        if tool:
            item = {
                "type": "function_call",
                "id": "fc_stand_in",
                "call_id": "call_stand_in",
                "name": tool,
                "arguments": json.dumps(SHELL_TOOLS[tool](self.word)),
                "status": "completed",
            }
        else:
            item = {
                "type": "message",
                "id": "msg_stand_in",
                "role": "assistant",
                "status": "completed",
                "content": [{"type": "output_text", "text": REPLY, "annotations": []}],
            }
        self.record("tool_call" if tool else "text", request.get("model"), results)
        response = {"id": "resp_stand_in", "object": "response", "model": request.get("model"), "status": "in_progress"}
        completed = dict(response, status="completed", output=[item], usage=OPENAI_USAGE)
        self.sse(
            [
                ("response.created", {"type": "response.created", "response": response}),
                ("response.output_item.done", {"type": "response.output_item.done", "output_index": 0, "item": item}),
                ("response.completed", {"type": "response.completed", "response": completed}),
            ]
        )

    def gemini(self, path, request, stream):
        model = path.rsplit("/", 1)[-1].split(":")[0]
        parts = [part for content in request.get("contents", []) for part in content.get("parts", [])]
        results = [part["functionResponse"] for part in parts if "functionResponse" in part]
        names = (f.get("name") for t in request.get("tools", []) for f in t.get("functionDeclarations", []))
        tool = None if results else offered_shell(names)
        schema = request.get("generationConfig", {}).get("responseJsonSchema")
        if tool:
            part, answered = {"functionCall": {"name": tool, "args": SHELL_TOOLS[tool](self.word)}}, "tool_call"
        elif schema:
            part, answered = {"text": json.dumps(instance(schema))}, "json"
        else:
            part, answered = {"text": REPLY}, "text"
        self.record(answered, model, results)
        answer = {
            "candidates": [{"content": {"role": "model", "parts": [part]}, "finishReason": "STOP", "index": 0}],
            "usageMetadata": GEMINI_USAGE,
            "modelVersion": model,
        }
        if stream:
            self.sse([(None, answer)])
        else:
            self.json(200, answer)


def main():
    StandIn.log_path, StandIn.word = sys.argv[1], sys.argv[2]
    server = ThreadingHTTPServer(("127.0.0.1", 0), StandIn)
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
