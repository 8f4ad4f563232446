from pvc.master.jobs import LATE_GRACE, ActiveJob, ActiveJobs, JidFactory


def test_jids_strictly_increase():
    f = JidFactory()
    jids = [f.new() for _ in range(1000)]
    assert jids == sorted(jids) and len(set(jids)) == 1000 and len(jids[0]) == 20


def test_missing_reasons_and_deadlines():
    jobs = ActiveJobs()
    job = ActiveJob("1", frozenset({"a", "b", "c"}), frozenset({"c"}), deadline=10.0)
    jobs.add(job)
    job.returned.add("a")
    assert job.outstanding() == {"b"}
    assert job.missing() == {"b": "timed out", "c": "not connected"}
    assert jobs.due(5.0) == []
    assert jobs.due(10.0) == [job]
    job.finished = True
    assert jobs.get("1") is job  # kept for late returns
    assert jobs.due(10.0 + LATE_GRACE) == []
    assert jobs.get("1") is None
