"""The checks the proof scripts in this folder make: each raises with what
failed, and `passed` counts those that held."""

passed = 0


def check(cond, what):
    global passed
    if not cond:
        raise AssertionError(what)
    passed += 1
