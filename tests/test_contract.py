"""One table-driven test of the refusals every public function shares (rows: ``tests/<part>/contract.py``)."""

import importlib.util
import re
from pathlib import Path

import pytest
from contract import Case

HERE = Path(__file__).resolve().parent


def _cases() -> list[Case]:
    cases = []
    for path in sorted(HERE.glob("*/contract.py")):
        spec = importlib.util.spec_from_file_location(f"contract_{path.parent.name}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        cases += module.CASES
    return cases


CASES = _cases()


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_refuses_what_its_arguments_do_not_take(case):
    case.fn(**case.kwargs())  # the valid call runs
    for name, bad in case.bad_values():
        kwargs = {**case.kwargs(), name: bad}
        with pytest.raises((ValueError, TypeError)) as excinfo:
            case.fn(**kwargs)
        message = str(excinfo.value)
        assert re.search(rf"(?<![\w\[]){re.escape(name)}(?![\w])", message), f"{name}={bad!r}: {message}"
