"""The allocator on a Dask worker (:func:`pcmspice.core.executor.on_dask_worker`): a Dask nanny starts its workers
with ``MALLOC_TRIM_THRESHOLD_`` set, which switches off glibc's dynamic mmap threshold, so every NumPy array over
128 KiB is mapped afresh and faults its pages in again.  A task run through ``on_dask_worker`` allocates as a
plain process does, and the worker's own setting is back after its last such task.  Page faults are counted,
not timed."""
import json
import subprocess
import sys

import pytest

#: a function that counts the page faults of making and freeing 200 arrays of 1 MiB
CHURN = r"""
import json, resource
import numpy as np

def churn(n=200):
    # 1 MiB arrays made and freed: reused heap memory faults nothing, a fresh mapping faults 256 pages each
    f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(n):
        a = np.ones(1 << 17)
        del a
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0
"""

PROBE = CHURN + r"""
from pcmspice.core.executor import on_dask_worker

churn()
out = {"plain": churn(), "task": on_dask_worker(churn), "after": churn(),
       "result": on_dask_worker(lambda x, y: x + y, 2, 3)}

# two tasks at once on a worker's two threads: the first to end leaves the setting to the other
import threading
started, release, inner = threading.Event(), threading.Event(), {}

def long_task():
    started.set()
    release.wait(30)
    inner["faults"] = churn()

t = threading.Thread(target=on_dask_worker, args=(long_task,))
t.start()
started.wait(30)
on_dask_worker(churn)          # a short task, begun and ended while the long one runs
release.set()
t.join(30)
out.update(overlap=inner["faults"], after_both=churn())
print(json.dumps(out))
"""

#: a loopback Dask cluster: what its nanny gives a worker, and what pcmspice's executor runs there
CLUSTER = CHURN + r"""
if __name__ == "__main__":
    from dask.distributed import Client, LocalCluster
    from pcmspice.core import executor
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address="127.0.0.1:0") as cluster:
        with Client(cluster.scheduler_address) as client:
            raw = [client.submit(churn, pure=False).result() for _ in range(2)]
        via = [r for _, r in executor.execute([(k, churn, ()) for k in range(2)], scheduler=cluster.scheduler_address)]
    print(json.dumps({"raw": raw[-1], "executor": max(via)}))
"""


def _faults(env_extra, script=PROBE):
    import os
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    env.update(env_extra)
    p = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=180)
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
    # overlapping tasks: the short one ending does not restore it under the long one; the last one does
    assert dask_like["overlap"] < 2000 and dask_like["after_both"] > 200 * 200


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's allocator")
def test_the_executor_runs_its_tasks_on_a_dask_worker_with_the_thresholds_fixed():
    """On a loopback cluster: a bare task on the worker faults every array in afresh (the nanny's setting);
    the same task through pcmspice's executor does not."""
    pytest.importorskip("distributed")
    got = _faults({}, CLUSTER)
    assert got["raw"] > 200 * 200
    assert got["executor"] < 2000


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's allocator")
def test_a_plain_process_is_left_alone():
    plain = _faults({})   # no threshold set: glibc's dynamic threshold already reuses memory, nothing is changed
    assert plain["plain"] < 2000 and plain["task"] < 2000 and plain["after"] < 2000
