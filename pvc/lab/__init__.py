"""``pvc lab``: a whole pvc cluster on one machine, for tests, the demo, benchmarks and operators.

Like kind for Kubernetes: every piece is real and only the hardware is simulated. A *node* is a
network namespace on a shared bridge, with its own PID, mount and UTS namespaces under a small
init (:mod:`pvc.lab.nodeinit`), its own libvirtd and its own ``pvc minion``; its *BMC* is an
OpenIPMI ``ipmi_sim`` on 127.0.0.1 whose chassis power really kills or boots the node. Shared by
the nodes: ZooKeeper (Debian's jars) and the ``pvc master`` processes, on the bridge address.
Everything is recorded in ``DIR/lab.json`` (:mod:`pvc.lab.state`) and stopped by PID and
namespace.

One module per job: :mod:`~pvc.lab.layout` (names and addresses, pure), :mod:`~pvc.lab.netns`
(bridge, veths, namespaces), :mod:`~pvc.lab.procs` (processes by PID), :mod:`~pvc.lab.node` (power
a node on/off), :mod:`~pvc.lab.libvirtd`, :mod:`~pvc.lab.bmc`, :mod:`~pvc.lab.chassis`,
:mod:`~pvc.lab.zookeeper`, :mod:`~pvc.lab.masters`, :mod:`~pvc.lab.guests`,
:mod:`~pvc.lab.preflight`, :mod:`~pvc.lab.lifecycle` (up/status/down) and :mod:`~pvc.lab.leftovers`.

Kept import-free: the BMC calls :mod:`pvc.lab.chassis` on every power query.

Example::

    from pvc.lab.lifecycle import up, down
    lab = up(LabOptions(dir=Path("/tmp/lab"), nodes=3, vms=2))
    ...
    down(Path("/tmp/lab"))
"""
