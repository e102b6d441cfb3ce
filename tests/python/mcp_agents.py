"""The OpenAI Agents SDK (PyPI `openai-agents`) uses `openshell-wasm mcp` as
its MCP server (`MCPServerStdio`) and completes a small coding task with a
model behind an OpenAI-compatible endpoint.

Usage: mcp_agents.py CONFIG_JSON

CONFIG_JSON: {"bin": path, "server_args": [...], "base_url": "http://.../v1",
"model": name}. Prints the run's final output as JSON:
{"final_output": "..."}.

Against a real model, point `base_url` at any OpenAI-compatible endpoint
(and OPENAI_API_KEY at its key); here the tests use the scripted server in
tests/model-server.
"""

import asyncio
import json
import os
import sys

from agents import Agent, OpenAIChatCompletionsModel, Runner, set_tracing_disabled
from agents.mcp import MCPServerStdio
from openai import AsyncOpenAI

TASK = "Write a shell script answer.sh that stores 6*7 in answer.txt, run it, and tell me what answer.txt says."


async def main():
    config = json.loads(sys.argv[1])
    set_tracing_disabled(True)
    client = AsyncOpenAI(
        base_url=config["base_url"],
        api_key=os.environ.get("OPENAI_API_KEY", "test-key"),
    )
    params = {
        "command": config["bin"],
        "args": ["mcp", *config["server_args"]],
        "env": dict(os.environ),
    }
    async with MCPServerStdio(
        params=params, name="openshell", client_session_timeout_seconds=60
    ) as server:
        agent = Agent(
            name="coder",
            instructions="You work in a sandbox through the openshell tools.",
            mcp_servers=[server],
            model=OpenAIChatCompletionsModel(
                model=config["model"], openai_client=client
            ),
        )
        result = await Runner.run(agent, TASK, max_turns=8)
    print(json.dumps({"final_output": result.final_output}))


asyncio.run(main())
