from pvc.master.jobs import LATE_GRACE, ActiveJob, ActiveJobs, JidFactory


def test_jids_strictly_increase():
    f = JidFactory()
    jids = [f.new() for _ in range(1000)]
    assert jids == sorted(jids) and len(set(jids)) == 1000 and len(jids[0]) == 20


def test_missing_reasons_and_deadlines():
    jobs = ActiveJobs()
    job = ActiveJob("1", frozenset({"a", "b", "c"}), frozenset({"c"}), deadline=10.0)
    jobs.add(job)
    job.settle("a")
    assert job.outstanding() == {"b"} and job.waiting == 1 and not job.complete
    assert job.missing() == {"b": "timed out", "c": "not connected"}
    assert jobs.due(5.0) == []
    assert jobs.due(10.0) == [job]
    job.finished = True
    assert jobs.get("1") is job  # kept for late returns
    assert jobs.due(10.0 + LATE_GRACE) == []
    assert jobs.get("1") is None


def test_waiting_follows_outstanding_through_every_change() -> None:
    """The O(1) count agrees with the O(minions) set after returns, losses, resends, returns
    from minions not counted (not connected, not expected) and un-stored returns."""
    job = ActiveJob("1", frozenset({"a", "b", "c", "d"}), frozenset({"d"}), deadline=10.0)
    steps = [("settle", "a", None), ("settle", "a", None), ("settle", "b", "restarted"), ("settle", "b", None),
             ("settle", "d", None), ("settle", "zz", None), ("unsettle", "a", False), ("settle", "a", None),
             ("unsettle", "b", True), ("unsettle", "b", False), ("settle", "c", "gone"), ("settle", "b", None)]
    for op, mid, arg in steps:
        if op == "settle":
            job.settle(mid, lost=arg)
        else:
            job.unsettle(mid, lost=arg)
        assert job.waiting == len(job.outstanding()), (op, mid, arg)
    assert job.complete and job.missing() == {"c": "gone"}


def test_a_job_of_10000_minions_settles_in_linear_time() -> None:
    """10,000 returns, and "is it complete?" asked after each: milliseconds, not minutes."""
    import time

    ids = frozenset(f"m{i}" for i in range(10_000))
    job = ActiveJob("1", ids, frozenset(), deadline=10.0)
    t0 = time.perf_counter()
    for mid in ids:
        job.settle(mid)
        if job.complete:
            break
    assert job.complete and time.perf_counter() - t0 < 1.0
