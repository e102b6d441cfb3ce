"""Tests of logic.py with plain Python (no WebAssembly, no host):

    python3 -m unittest        # in this folder
"""

import json
import unittest

import logic
from logic import Arguments, InputError, Tally, ToolError


class Input(unittest.TestCase):
    def test_plain_text_is_the_task(self):
        s = logic.parse_input("  fix the tests\n")
        self.assertEqual((s.task, s.model, s.max_steps, s.stream), ("fix the tests", "", 30, False))

    def test_json_object(self):
        s = logic.parse_input('{"task": "t", "model": "coder", "max_steps": 5, "stream": true}')
        self.assertEqual((s.task, s.model, s.max_steps, s.stream), ("t", "coder", 5, True))

    def test_json_defaults(self):
        s = logic.parse_input(' {"task": "t"}')
        self.assertEqual((s.model, s.max_steps, s.stream), ("", 30, False))

    def test_bad_input(self):
        for text in [
            "",
            "   ",
            "{not json",
            '{"task": 1}',
            '{"model": "x"}',
            '{"task": "t", "max_steps": true}',
            '{"task": "t", "max_steps": -1}',
            '{"task": "t", "max_steps": 2.5}',
            '{"task": "t", "stream": "yes"}',
            '{"task": "t", "model": null}',
        ]:
            with self.subTest(text=text), self.assertRaises(InputError):
                logic.parse_input(text)

    def test_text_not_starting_with_a_brace_is_not_json(self):
        self.assertEqual(logic.parse_input('fix {"task": 1}').task, 'fix {"task": 1}')


class Tools(unittest.TestCase):
    def test_schemas(self):
        names = [name for name, _, _ in logic.TOOLS]
        self.assertEqual(names, ["run_command", "read_file", "write_file", "list_dir", "edit_file", "finish"])
        required = {name: json.loads(schema).get("required", []) for name, _, schema in logic.TOOLS}
        self.assertEqual(
            required,
            {
                "run_command": ["command"],
                "read_file": ["path"],
                "write_file": ["path", "content"],
                "list_dir": [],
                "edit_file": ["path", "old", "new"],
                "finish": ["summary"],
            },
        )
        run = json.loads(logic.TOOLS[0][2])
        self.assertEqual(run["type"], "object")
        self.assertEqual(run["properties"]["timeout_s"]["type"], "integer")

    def test_arguments(self):
        args = Arguments('{"command": "ls", "timeout_s": 5}')
        self.assertEqual(args.string("command"), "ls")
        self.assertEqual(args.integer("timeout_s", 60), 5)
        self.assertEqual(args.string("path", "."), ".")
        self.assertEqual(Arguments('{"timeout_s": 7.0}').integer("timeout_s", 60), 7)
        self.assertEqual(Arguments("").string("path", "."), ".")

    def test_bad_arguments(self):
        cases = [
            (lambda: Arguments("{oops"), "the arguments are not valid JSON: "),
            (lambda: Arguments("[1]"), "the arguments must be a JSON object"),
            (lambda: Arguments("{}").string("command"), 'missing required argument "command"'),
            (lambda: Arguments('{"path": 3}').string("path"), 'argument "path" must be a string'),
            (lambda: Arguments('{"timeout_s": "9"}').integer("timeout_s", 60), 'argument "timeout_s" must be an integer'),
            (lambda: Arguments('{"timeout_s": true}').integer("timeout_s", 60), 'argument "timeout_s" must be an integer'),
        ]
        for make, message in cases:
            with self.subTest(message=message), self.assertRaises(ToolError) as caught:
                make()
            self.assertTrue(str(caught.exception).startswith(message), str(caught.exception))

    def test_timeout(self):
        self.assertEqual(logic.timeout_ms(60), 60_000)
        self.assertEqual(logic.timeout_ms(10**9), 2**32 - 1)
        with self.assertRaises(ToolError):
            logic.timeout_ms(0)


class Results(unittest.TestCase):
    def test_command_result(self):
        self.assertEqual(
            logic.command_result(1, b"", b"AssertionError\n"),
            "exit code: 1\n--- stdout ---\n\n--- stderr ---\nAssertionError\n",
        )
        self.assertEqual(logic.command_result(None, b"x", b""), "exit code: timeout\n--- stdout ---\nx\n--- stderr ---\n")

    def test_streams_keep_their_first_and_last_4000_bytes(self):
        exact = b"a" * 8000
        self.assertEqual(logic.clip_stream(exact), "a" * 8000)
        data = b"h" * 4000 + b"m" * 123 + b"t" * 4000
        self.assertEqual(logic.clip_stream(data), "h" * 4000 + "\n[... 123 bytes omitted ...]\n" + "t" * 4000)

    def test_lossy_utf8(self):
        self.assertEqual(logic.clip_stream(b"ok \xff\xfe \xc3\xa9"), "ok \ufffd\ufffd \u00e9")
        # A cut through a character leaves a replacement character, as
        # Rust's String::from_utf8_lossy does.
        data = b"a" * 3999 + "é".encode() + b"b" * 4001
        self.assertTrue(logic.clip_stream(data).startswith("a" * 3999 + "\ufffd\n[... 2 bytes omitted ...]\n"))

    def test_file_result(self):
        self.assertEqual(logic.file_result(b"x" * 16000), "x" * 16000)
        self.assertEqual(logic.file_result(b"x" * 16001), "x" * 16000 + "\n[... truncated: 16001 bytes in all]")

    def test_listing(self):
        entries = [("src", True), ("b.py", False), ("a.py", False)]
        self.assertEqual(logic.listing(entries), "a.py\nb.py\nsrc/")
        self.assertEqual(logic.listing([]), "")

    def test_edit(self):
        self.assertEqual(
            logic.edit("def add(a, b):\n    return a - b\n", "return a - b", "return a + b", "calc.py"),
            "def add(a, b):\n    return a + b\n",
        )
        with self.assertRaises(ToolError) as caught:
            logic.edit("abc", "x", "y", "f.txt")
        self.assertEqual(str(caught.exception), "old text not found in f.txt")
        with self.assertRaises(ToolError) as caught:
            logic.edit("x = 1\nx = 1\nx = 1\n", "x = 1", "x = 2", "f.txt")
        self.assertEqual(str(caught.exception), "old text occurs 3 times in f.txt; give more context")

    def test_edit_needs_utf8(self):
        self.assertEqual(logic.utf8("é".encode(), "f.txt"), "é")
        with self.assertRaises(ToolError) as caught:
            logic.utf8(b"\xff", "f.bin")
        self.assertEqual(str(caught.exception), "f.bin is not UTF-8 text; use write_file")

    def test_system_prompt_names_the_workdir(self):
        self.assertIn("/sandbox", logic.system_prompt("/sandbox"))


class Report(unittest.TestCase):
    def test_the_scripted_run(self):
        """The host's scripted test: five model calls, five tool calls."""
        tally = Tally()
        for name in ["run_command", "read_file", "edit_file", "run_command", "finish"]:
            tally.answer(100, 10, False, "scripted")
            tally.tool_call(name)
        tally.files_changed.add("calc.py")
        self.assertEqual(
            tally.report(True, "finish", "fixed add() in calc.py"),
            '{"ok":true,"stopped":"finish","summary":"fixed add() in calc.py","steps":5,"tool_calls":5,'
            '"tools":{"edit_file":1,"finish":1,"read_file":1,"run_command":2},"files_changed":["calc.py"],'
            '"usage":{"prompt_tokens":500,"completion_tokens":50,"estimated":false},"model":"scripted"}',
        )

    def test_empty_run(self):
        self.assertEqual(
            Tally().report(False, "budget", "model.max-requests"),
            '{"ok":false,"stopped":"budget","summary":"model.max-requests","steps":0,"tool_calls":0,'
            '"tools":{},"files_changed":[],'
            '"usage":{"prompt_tokens":0,"completion_tokens":0,"estimated":false},"model":""}',
        )

    def test_files_are_deduplicated_and_sorted_and_estimates_stick(self):
        tally = Tally()
        tally.answer(1, 1, True, "a")
        tally.answer(1, 1, False, "b")
        for path in ["b.txt", "a/c.txt", "b.txt"]:
            tally.files_changed.add(path)
        report = json.loads(tally.report(True, "answer", "done"))
        self.assertEqual(report["files_changed"], ["a/c.txt", "b.txt"])
        self.assertEqual(report["usage"], {"prompt_tokens": 2, "completion_tokens": 2, "estimated": True})
        self.assertEqual(report["model"], "b")

    def test_escapes_as_serde_json_does(self):
        # Non-ASCII as is; control characters escaped, short forms where
        # JSON has them.
        report = Tally().report(True, "answer", 'é "q" \\ \n\t\b\f\x01')
        self.assertIn('"summary":"é \\"q\\" \\\\ \\n\\t\\b\\f\\u0001"', report)


if __name__ == "__main__":
    unittest.main()
