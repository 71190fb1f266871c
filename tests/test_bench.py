"""`python -m fastconv bench --scaling`: fastconv at 1 thread and at N, side by
side in the same rounds."""
import subprocess
import sys

import fastconv
from fastconv import _bench


def test_time_rounds_prepares_each_backend_before_it_runs(restore_threads):
    """The prepare hook (here: the thread count) is in force for every call of
    its backend, settling and timed, whatever the shuffled order."""
    seen = {"a@1": set(), "a@2": set()}

    def call_for(name):
        return lambda: seen[name].add(fastconv.get_num_threads())

    calls = {name: call_for(name) for name in seen}
    prepare = {"a@1": lambda: fastconv.set_num_threads(1),
               "a@2": lambda: fastconv.set_num_threads(2)}
    times = _bench._time_rounds(calls, 4, 0.0, prepare)
    assert seen == {"a@1": {1}, "a@2": {2}}
    assert all(len(t) == 4 for t in times.values())


def test_scaling_command_prints_a_row_per_case_and_the_summary():
    res = subprocess.run([sys.executable, "-m", "fastconv", "bench", "--scaling", "--filter",
                          "gap,ap2d", "--repeat", "1", "--settle", "1", "--threads", "2"],
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    names = [n for n in _bench.CASES if "gap" in n or "ap2d" in n]
    for name in names:
        row = next(line for line in lines if line.startswith(name + " "))
        cells = row.split()
        assert cells[1] == "fastconv" and cells[3] == "fastconv"
        one, two, speedup = float(cells[2]), float(cells[4]), float(cells[5])
        # the printed times are rounded to 0.001 ms, the speed-up to 0.01
        slack = speedup * (0.0005 / one + 0.0005 / two) + 0.006
        assert one > 0 and two > 0 and abs(speedup - one / two) <= slack
    assert lines[-1].startswith("speed-up: geometric mean")
