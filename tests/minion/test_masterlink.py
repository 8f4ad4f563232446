"""A job's thread asks the master and waits for the answer with its rid; bounded and timed."""

from __future__ import annotations

import threading

import pytest

from pvc.minion.masterlink import MAX_WAITING, MasterRequests, MasterUnreachable
from pvc.wire.files import FileData, FileReq


def test_answer_reaches_the_waiting_thread_and_strays_are_dropped():
    sent = []
    link = MasterRequests(sent.append, lambda fn: fn(), "/tmp/x", timeout=5)
    got = []
    worker = threading.Thread(target=lambda: got.append(link.request(FileReq(link.next_rid(), "top.sls"))))
    worker.start()
    while not sent:
        pass
    link.deliver(FileData(999, error="stray"))  # nobody waits for 999
    link.deliver(FileData(sent[0].rid, "h", 1, 0, b"x"))
    worker.join(5)
    assert got == [FileData(1, "h", 1, 0, b"x")]


def test_no_answer_is_a_typed_timeout():
    link = MasterRequests(lambda rec: None, lambda fn: fn(), "/tmp/x", timeout=0.05)
    with pytest.raises(MasterUnreachable, match="did not answer a file_req"):
        link.request(FileReq(link.next_rid(), "top.sls"))


def test_waiting_requests_are_bounded():
    link = MasterRequests(lambda rec: None, lambda fn: fn(), "/tmp/x", timeout=2)
    threads = [threading.Thread(target=lambda: pytest.raises(MasterUnreachable, link.request,
                                                             FileReq(link.next_rid(), "x")))
               for _ in range(MAX_WAITING)]
    for t in threads:
        t.start()
    while len(link._waiting) < MAX_WAITING:
        pass
    with pytest.raises(MasterUnreachable, match="already waiting"):
        link.request(FileReq(link.next_rid(), "one too many"))
    for t in threads:
        t.join(5)
