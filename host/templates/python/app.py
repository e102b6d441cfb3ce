"""An openshell-wasm agent in Python.

`run` gets the text given to `openshell-wasm run --input` and returns the
run's result. This one writes the input to a file in its sandbox, counts its
words with `wc -w` there, and returns what `wc` printed. Everything it can
do is in `wit/` (the `openshell:sandbox/agent` world); `./build.sh` writes
the generated `wit_world` bindings, with type hints, to `bindings/`.
"""

import wit_world
from componentize_py_types import Err
from wit_world.imports import fs, lifecycle, log, process, types


def describe(error: types.Error) -> str:
    return f"{error.operation} failed: {error.message}"


class WitWorld(wit_world.WitWorld):
    def run(self, input: str) -> str:
        try:
            # The sandbox the host bound to this run (released at the end).
            with lifecycle.current() as sandbox:
                # Paths are relative to the sandbox's workdir.
                options = fs.WriteOptions(mode=None, create_parents=True, exclusive=False)
                fs.write_file(sandbox, "input.txt", input.encode(), options)

                # Commands are argv lists, never shell strings.
                run_options = process.RunOptions(cwd=None, env=[], stdin=None, timeout_ms=None, max_output_bytes=None)
                out = process.run(sandbox, ["wc", "-w", "input.txt"], run_options)
                log.log(log.Level.INFO, "counted words", [("exit_code", str(out.exit_code))])
                if out.exit_code != 0:
                    raise Err(f"wc failed: {out.stderr.decode(errors='replace')}")
                return out.stdout.decode(errors="replace").strip()
        except Err as e:
            # Sandbox calls raise Err(types.Error); the agent's error is a string.
            raise Err(e.value if isinstance(e.value, str) else describe(e.value))
