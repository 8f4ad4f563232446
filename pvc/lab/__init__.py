"""``pvc lab``: a whole pvc cluster on one machine, for tests, the demo, benchmarks and operators.

Like kind for Kubernetes: every piece is real and only the hardware is simulated. A *node* is a
network namespace on a shared bridge, with its own PID, mount and UTS namespaces under a small
init (:mod:`pvc.lab.nodeinit`), its own libvirtd and its own ``pvc minion``; its *BMC* is an
OpenIPMI ``ipmi_sim`` on 127.0.0.1 whose chassis power really kills or boots the node. Shared by
the nodes: ZooKeeper (Debian's jars) and the ``pvc master`` processes, on the bridge address, and
with ``--ceph`` a memstore Ceph there too, whose RBD images back the guests (``vms/<vm>-disk0``).
Everything is recorded in ``DIR/lab.json`` (:mod:`pvc.lab.state`) and stopped by PID and
namespace.

One module per job: :mod:`~pvc.lab.layout` (names and addresses, pure), :mod:`~pvc.lab.state`
(lab.json), :mod:`~pvc.lab.netns` (bridge, veths, namespaces), :mod:`~pvc.lab.procs` (processes by
PID), :mod:`~pvc.lab.nodeinit` (a node's PID 1), :mod:`~pvc.lab.node` (power a node on/off),
:mod:`~pvc.lab.libvirtd`, :mod:`~pvc.lab.bmc` and :mod:`~pvc.lab.chassis` (the BMC and its power
program), :mod:`~pvc.lab.zookeeper`, :mod:`~pvc.lab.masters`, :mod:`~pvc.lab.ceph` and
:mod:`~pvc.lab.cephsecret` (the cluster and each libvirtd's key), :mod:`~pvc.lab.guestkernel` and
:mod:`~pvc.lab.guests`, :mod:`~pvc.lab.preflight`, and the three commands :mod:`~pvc.lab.up`,
:mod:`~pvc.lab.status`, :mod:`~pvc.lab.down`.

Kept import-free: the BMC calls :mod:`pvc.lab.chassis` on every power query.

Example::

    from pvc.lab.up import LabOptions, up
    from pvc.lab.down import down
    report = up(LabOptions(dir=Path("/tmp/lab"), nodes=3, vms=2, ceph=True))
    report.lab.node("hv1").libvirt_uri
    assert down(Path("/tmp/lab")).clean
"""
