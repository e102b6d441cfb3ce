"""Drive openshell-test-model with the official `openai` Python package.

Usage: python openai_proof.py PLAIN_URL CRLF_URL

Both are base URLs (http://127.0.0.1:PORT/v1) of openshell-test-model
servers running openai_proof_script.json (next to this file): PLAIN_URL
started as is, CRLF_URL with --crlf --keepalive (CR LF line ends and
": keep-alive" comments before every event). The proof uses the whole
script on PLAIN_URL and only its first step on CRLF_URL, and reads the
expected answers from the same script file:

  step 0  streamed text, plain, reassembled by hand from the deltas
          (and again on CRLF_URL with the package's own stream helper)
  step 1  non-streamed tool call: name, id, json.loads(arguments), usage
  step 2  streamed text plus two tool calls with awkward arguments and
          stream_options.include_usage: reassembled, and the usage chunk
  step 3  429 with Retry-After: 1, which the client's own retry honours,
  step 4  so the same call succeeds after about a second
  step 5  a request for the wrong model: 400 saying what was expected
  then    one request too many: 400 "script exhausted"

Any mismatch raises; success prints "openai proof: N checks passed".
"""

import json
import os
import sys
import time

import checking
import openai
from checking import check

SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "openai_proof_script.json")

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": name,
            "description": f"{name} in the sandbox",
            "parameters": {"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]},
        },
    }
    for name in ("read_file", "write_file")
]



def reply(steps, n):
    return steps[n]["reply"]["message"]


def user(text):
    return [{"role": "system", "content": "You are a test."}, {"role": "user", "content": text}]


def reassemble(stream):
    """Content, calls by index ({id, name, arguments}), finish reason, usage and chunk count."""
    content, calls, finish, usage, count = "", {}, None, None, 0
    for chunk in stream:
        count += 1
        check(chunk.object == "chat.completion.chunk", f"chunk object {chunk.object}")
        if chunk.usage is not None:
            check(chunk.choices == [], f"the usage chunk has no choices: {chunk}")
            usage = chunk.usage
        for choice in chunk.choices:
            delta = choice.delta
            content += delta.content or ""
            for fragment in delta.tool_calls or []:
                call = calls.setdefault(fragment.index, {"id": None, "name": "", "arguments": ""})
                if fragment.id:
                    call["id"] = fragment.id
                if fragment.function and fragment.function.name:
                    call["name"] += fragment.function.name
                if fragment.function and fragment.function.arguments:
                    call["arguments"] += fragment.function.arguments
            if choice.finish_reason:
                finish = choice.finish_reason
    return content, calls, finish, usage, count


def main() -> None:
    plain_url, crlf_url = sys.argv[1], sys.argv[2]
    with open(SCRIPT, encoding="utf-8") as f:
        steps = json.load(f)["steps"]
    client = openai.OpenAI(base_url=plain_url, api_key="proof-key", max_retries=0, timeout=30.0)

    # Step 0: streamed text, reassembled by hand.
    want = reply(steps, 0)
    stream = client.chat.completions.create(
        model="proof-model", messages=user("Stream a greeting."), stream=True, stream_options={"include_usage": True}
    )
    content, calls, finish, usage, count = reassemble(stream)
    check(content == want["content"], f"streamed text {content!r}")
    check((calls, finish) == ({}, "stop"), f"text stream: calls {calls}, finish {finish}")
    check(count > 5, f"the text came in pieces ({count} chunks)")
    check(usage.total_tokens == 30, f"text usage {usage}")

    # Step 1: a non-streamed tool call.
    want = reply(steps, 1)["tool_calls"][0]
    completion = client.chat.completions.create(model="proof-model", messages=user("Read the notes."), tools=TOOLS)
    check(completion.object == "chat.completion" and completion.model == "proof-model", f"completion {completion}")
    choice = completion.choices[0]
    check(choice.finish_reason == "tool_calls", f"finish reason {choice.finish_reason}")
    check(choice.message.role == "assistant" and choice.message.content is None, f"message {choice.message}")
    call = choice.message.tool_calls[0]
    check((call.id, call.type, call.function.name) == (want["id"], "function", "read_file"), f"tool call {call}")
    arguments = json.loads(call.function.arguments)
    check(arguments == {"path": 'docs/naïve "名前".txt', "lines": [1, 20]}, f"arguments {arguments}")
    check(
        (completion.usage.prompt_tokens, completion.usage.completion_tokens, completion.usage.total_tokens) == (42, 9, 51),
        f"usage {completion.usage}",
    )

    # Step 2: streamed content and two tool calls, with the usage chunk.
    want = reply(steps, 2)
    messages = user("Read the notes.") + [
        {"role": "assistant", "content": None, "tool_calls": [call.model_dump()]},
        {"role": "tool", "tool_call_id": call.id, "content": "the file contents: notes"},
    ]
    stream = client.chat.completions.create(
        model="proof-model", messages=messages, tools=TOOLS, stream=True, stream_options={"include_usage": True}
    )
    content, calls, finish, usage, count = reassemble(stream)
    check(content == want["content"], f"streamed content {content!r}")
    check(sorted(calls) == [0, 1], f"call indexes {sorted(calls)}")
    for index, expected in enumerate(want["tool_calls"]):
        got = calls[index]
        check((got["id"], got["name"]) == (expected["id"], expected["name"]), f"call {index}: {got}")
        check(got["arguments"] == expected["arguments"], f"call {index} arguments {got['arguments']!r}")
        check(json.loads(got["arguments"]) == json.loads(expected["arguments"]), f"call {index} JSON")
    check(json.loads(calls[0]["arguments"])["text"] == 'line one\nline "two" é ✓', "escapes survive reassembly")
    check(finish == "tool_calls", f"finish reason {finish}")
    check(count > 20, f"the arguments came in small pieces ({count} chunks)")
    check((usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (77, 51, 128), f"usage {usage}")

    # Steps 3 and 4: a 429 with Retry-After, then success, by the client's own retry.
    retrying = client.with_options(max_retries=2)
    started = time.monotonic()
    raw = retrying.chat.completions.with_raw_response.create(
        model="proof-model", messages=user("Answer after a rate limit.")
    )
    waited = time.monotonic() - started
    completion = raw.parse()
    check(raw.retries_taken == 1, f"retries taken {raw.retries_taken}")
    check(waited >= 0.95, f"Retry-After: 1 was honoured ({waited:.2f} s; the default backoff is under 0.5 s)")
    check(completion.choices[0].message.content == reply(steps, 4)["content"], f"after the retry: {completion}")
    check(completion.usage is None, "a step without usage sends none")

    # Step 5: the wrong model is refused, saying why.
    try:
        client.chat.completions.create(model="other-model", messages=user("Hi."))
        raise AssertionError("a failed expectation must be an error")
    except openai.BadRequestError as e:
        check(e.status_code == 400 and e.type == "invalid_request_error", f"mismatch error {e}")
        message = e.body["message"]
        check(message == 'script step 5: expected model "proof-model", got "other-model"', f"mismatch message {message}")
    try:
        client.chat.completions.create(model="proof-model", messages=user("Hi."))
        raise AssertionError("a request past the script must be an error")
    except openai.BadRequestError as e:
        check(e.body["message"].startswith("script exhausted"), f"exhausted message {e.body}")

    models = client.models.list()
    check([m.id for m in models.data] == ["openshell-test-model"], f"models {models}")

    # Step 0 again on the CR LF + keep-alive server, through the package's
    # own stream helper (it accumulates the deltas itself).
    crlf = openai.OpenAI(base_url=crlf_url, api_key="proof-key", max_retries=0, timeout=30.0)
    with crlf.chat.completions.stream(
        model="proof-model", messages=user("Stream a greeting."), stream_options={"include_usage": True}
    ) as stream:
        deltas = "".join(event.delta for event in stream if event.type == "content.delta")
        final = stream.get_final_completion()
    want = reply(steps, 0)
    check(deltas == want["content"], f"CR LF deltas {deltas!r}")
    check(final.choices[0].message.content == want["content"], f"CR LF final {final.choices[0].message}")
    check(final.choices[0].finish_reason == "stop", f"CR LF finish {final.choices[0].finish_reason}")
    check(final.usage is not None and final.usage.total_tokens == 30, f"CR LF usage {final.usage}")

    print(f"openai proof: {checking.passed} checks passed")


if __name__ == "__main__":
    main()
