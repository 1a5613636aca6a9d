"""Which calls make an output unrepeatable (the ``nondeterministic-output`` flag and verify's outcome)."""

from __future__ import annotations

import pytest

from repro_kernel.core.volatile import describe, shown_volatile_calls, volatile_calls


@pytest.mark.parametrize("code, expected", [
    ("import numpy as np\nnp.empty(3)", ("numpy.empty",)),
    ("import numpy\nx = numpy.empty_like(y)\nx", ("numpy.empty_like",)),
    ("from numpy import empty as e\ne((2, 2))", ("numpy.empty",)),
    ("import torch\ntorch.empty(2, 3)", ("torch.empty",)),
    ("print(id(df))", ("builtins.id",)),
    ("import uuid, os\nprint(uuid.uuid4(), os.getpid())", ("uuid.uuid4", "os.getpid")),
    ("from uuid import uuid4\nuuid4()", ("uuid.uuid4",)),
    ("import time\nt0 = time.perf_counter()\nprint(time.perf_counter() - t0)", ("time.perf_counter",)),
    ("%time x = np.empty(2)", ("numpy.empty",)),  # magics are translated first
])
def test_calls_that_cannot_repeat_are_named_by_module(code: str, expected: tuple[str, ...]) -> None:
    assert volatile_calls(code) == expected


@pytest.mark.parametrize("code", [
    "import numpy as np\nnp.zeros(3)",
    "queue.empty()",                  # a method of a user object that happens to be called empty
    "def empty(n):\n    return [0] * n\nempty(3)",
    "import time\ntime.time()",        # the wall clock: the replay sets it
    "import numpy as np\nrng = np.random.default_rng(0)\nrng.normal()",
    "print('id(x)')",                 # a string, not a call
    "this is not python (",
])
def test_defined_values_and_user_code_are_not_volatile(code: str) -> None:
    assert volatile_calls(code) == ()


@pytest.mark.parametrize("code, expected", [
    ("import numpy as np\nnp.empty(3)", ("numpy.empty",)),        # the displayed value
    ("np.empty(3);", ()),                                           # display suppressed
    ("buf = np.empty(3)\nprint(os.environ.get('FLAG'))", ()),       # computed with, never shown
    ("t0 = time.perf_counter()\nprint('flag', 1)", ()),
    ("t0 = time.perf_counter()\nx = 1\nprint(time.perf_counter() - t0)", ("time.perf_counter",)),
    ("pid = os.getpid()\nprint(f'worker {pid}')", ("os.getpid",)),  # through a name
    ("pid = os.getpid()\npid = 3\nprint(pid)", ()),                 # rebound before it was shown
    ("x = f'{id(a)}'\ndisplay(x)", ("builtins.id",)),
    ("%time np.empty(2)", ("numpy.empty",)),
    ("%time x = np.empty(2)", ()),
])
def test_only_the_values_a_cell_shows_count(code: str, expected: tuple[str, ...]) -> None:
    assert shown_volatile_calls(code) == expected


@pytest.mark.parametrize("code, expected", [
    # A real tutorial's timing cell: the wall clock is set at the step's start, then runs at the replay's speed.
    ("import datetime as dt\nstart = dt.datetime.now()\nres = mod.fit()\n"
     "print(f\"Seconds: {(dt.datetime.now() - start).total_seconds()}\")", ("elapsed:datetime.now",)),
    ("import time\nt0 = time.time()\nrun()\nprint(time.time() - t0)", ("elapsed:time.time",)),
    ("import time\nt0 = time.time()\nt1 = time.time()\nspent = t1 - t0\nspent", ("elapsed:time.time",)),
    ("import pandas as pd\nt = pd.Timestamp.now()\nprint(pd.Timestamp.now() - t)", ("elapsed:Timestamp.now",)),
    ("from datetime import datetime\ndatetime.now()", ()),                       # one read: the replay sets it
    ("from datetime import date\nage = date.today() - birthday\nage", ()),      # against a date in the data
    ("start = datetime.now()\nstart = stamp\nprint(datetime.now() - start)", ()),  # rebound to data first
    ("import time\nt0 = time.time()\nspent = time.time() - t0", ()),           # computed, never shown
])
def test_time_elapsed_between_wall_clock_reads_is_volatile_when_shown(code: str, expected: tuple[str, ...]) -> None:
    assert shown_volatile_calls(code) == expected


def test_hits_are_described_in_the_users_words() -> None:
    assert [describe(h) for h in ("numpy.empty", "builtins.id", "elapsed:datetime.now")] == [
        "numpy.empty()", "id()", "the time elapsed between datetime.now() reads"]
