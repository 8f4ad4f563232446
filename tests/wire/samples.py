"""One valid instance of every wire record, for the record tests and the fuzzer."""

from __future__ import annotations

from pvc.wire import files, inner, local, messages, mine
from pvc.wire.record import Record

K32 = bytes(range(32))
SIG = b"\x07" * 64
NONCE = b"\x01" * 12

JOB = messages.Job("20261130064901123456", "web*", "glob", "test.echo", ["hi", 1, 2.5, None],
                   {"flag": True, "nested": {"a": [1, 2]}}, 1_790_000_000.5, 5.0)
RET = inner.ReturnRec(True, {"x": [1, "two", None]}, "", "", 0.25)
FAILED = inner.ReturnRec(False, None, "boom", "ExecutionError", 1.0)
SUMMARY = local.JobSummary("20261130064901123456", "test.ping", "*", "glob", 1_790_000_000.0, 3, 2, 1)

OUTER: list[messages.Outer] = [
    messages.Hello(),
    messages.Challenge(K32),
    messages.AuthRequest("web1", K32, K32[::-1], b"\x02" * 32, b"\x03" * 32, SIG),
    messages.AuthReply("accepted", "web1", K32, K32[::-1], NONCE, b"wrapped", 4507, b"\x04" * 32,
                       1_790_000_000.25, 40.0, SIG),
    messages.Sealed("web1", 2**63, b"ciphertext"),
    messages.Reauth(),
    messages.Publication(2**63, NONCE, b"ciphertext", SIG),
    messages.Busy(12.5),
]

UP_RECORDS: list[Record] = [
    inner.Ret("20261130064901123456", RET),
    inner.Ret("j2", FAILED),
    inner.Heartbeat(["vm1", "vm2"]),
    inner.Heartbeat(),
    inner.Heartbeat([], [inner.RunningJob("j1", "cmd.run", 12.5)]),
    inner.EventMsg("pvc/vm/vm1/started", {"a": 1, "b": [True]}),
    inner.Grains({"os": "Debian", "cpus": 4, "mem": 1.5}),
    inner.Lost("j3", "minion restarted during the job"),
    inner.Bye(),
    files.FileReq(1, "motd/init.sls"),
    files.FileReq(2, "blob.bin", "base", 262144, "ab" * 32),
    files.ListReq(3, "ntp", "base", True),
    files.PillarReq(4),
    mine.MineUpdate(5, [mine.MineEntry("grains.items", {"os": "Debian", "n": [1, 2.5]}),
                        mine.MineEntry("addrs", ["10.0.0.1"], "hv*", "glob")], clear=True),
    mine.MineDelete(6, ["addrs"]),
    mine.MineDelete(7, flush=True),
    mine.MineGet(8, "G@role:hv and not hv3", "compound", ["grains.items", "addrs"]),
]

DOWN_RECORDS: list[Record] = [
    inner.Ack(["j1", "j2"]),
    inner.Ack([]),
    inner.Rekey(12, K32),
    inner.Pong(1_790_000_000.0),
    inner.JobBox(JOB),
    inner.Kill("j1"),
    files.FileData(1, "ab" * 32, 3, 0, b"abc"),
    files.FileData(2, same=True),
    files.FileData(3, error="missing"),
    files.Listing(4, ["top.sls", "motd/init.sls"]),
    files.PillarData(5, {"secret": "x", "n": [1, 2]}),
    mine.MineData(6, {"addrs": {"hv1": ["10.0.0.1"], "hv2": None}}),
    mine.MineData(7, error="the mine is full"),
]

REQUEST_RECORDS: list[messages.Outer] = [
    local.PublishReq("web*", "glob", "test.ping", [1], {"k": "v"}, 5.0, False),
    local.PublishReq("web1,web2", "list", "cmd.run", ["ls"], {}, 86400.0),
    local.JobGet("20261130064901123456"),
    local.JobList(),
    local.JobList(10_000, "test.ping"),
    local.KeysChanged(),
    local.EventFire("pvc/custom/thing", {"x": 1}),
    local.ExpectedReq("G@os:Debian", "compound"),
    local.Ping(),
    local.JobKill("j1"),
    local.JobActive(),
    local.JobActive("web*", "glob"),
    local.StatusReq(),
]

REPLY_RECORDS: list[messages.Outer] = [
    local.Published("j1", ["web1", "web2"], {"web3": "not connected"}),
    local.Published("j1", []),
    local.RetReply("j1", "web1", RET),
    local.Done("j1", {"web2": "timed out"}),
    local.JobView("j1", "test.echo", ["a"], {"b": 2}, "web*", "glob", ["web1", "web2", "web3"], 1.0, 5.0,
                  {"web1": local.StoredRet(RET, 2.0), "web2": local.StoredRet(FAILED, 3.0)},
                  {"web3": "not connected"}, ["web4"]),
    local.JobView("j2", "test.ping", [], {}, "*", "glob", [], 1.0, 5.0),
    local.JobsReply([SUMMARY, SUMMARY]),
    local.JobsReply([]),
    local.Ok(["web1"]),
    local.Ok(),
    local.ErrorReply("no such job", "JobNotFound"),
    local.Minions(["web1", "web2"], ["web1"]),
    local.ActiveReply([local.ActiveRow("web1", "j1", "cmd.run", 3.0)]),
    local.ActiveReply([]),
    local.KillSent("j1", ["web1"]),
    local.StatusReply([local.MinionStatus("web1", True, 0.5, -3.0, 2, 1), local.MinionStatus("web2", False)]),
]

# plain records (not outer, not in a table)
PLAIN: list[Record] = [JOB, RET, FAILED, SUMMARY, local.StoredRet(RET, 1.0)]
