"""The allocator on a Dask worker (:func:`pcmspice.core.executor.on_dask_worker`): a Dask nanny starts its workers
with ``MALLOC_TRIM_THRESHOLD_`` set, which switches off glibc's dynamic mmap threshold, so every NumPy array over
128 KiB is mapped afresh and faults its pages in again.  A task run through ``on_dask_worker`` allocates as a
plain process does, and the worker's own setting is back afterwards.  Page faults are counted, not timed."""
import json
import subprocess
import sys

import pytest

PROBE = r"""
import json, resource
import numpy as np
from pcmspice.core.executor import on_dask_worker

def churn(n=200):
    # 1 MiB arrays made and freed: reused heap memory faults nothing, a fresh mapping faults 256 pages each
    f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(n):
        a = np.ones(1 << 17)
        del a
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0

churn()
print(json.dumps({"plain": churn(), "task": on_dask_worker(churn), "after": churn(),
                  "result": on_dask_worker(lambda x, y: x + y, 2, 3)}))
"""


def _faults(env_extra):
    import os
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    env.update(env_extra)
    p = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, env=env, timeout=120)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's allocator")
def test_a_task_on_a_dask_worker_allocates_as_a_plain_process():
    dask_like = _faults({"MALLOC_TRIM_THRESHOLD_": "65536"})   # what a Dask nanny gives its workers
    assert dask_like["result"] == 5
    # the worker's own setting: every 1 MiB array faults its 256 pages in again
    assert dask_like["plain"] > 200 * 200
    # the task: heap memory reused, hardly a fault
    assert dask_like["task"] < 2000
    # restored afterwards: the worker hands memory back as its operator set it
    assert dask_like["after"] > 200 * 200


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's allocator")
def test_a_plain_process_is_left_alone():
    plain = _faults({})   # no threshold set: glibc's dynamic threshold already reuses memory, nothing is changed
    assert plain["plain"] < 2000 and plain["task"] < 2000 and plain["after"] < 2000
