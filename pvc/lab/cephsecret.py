"""The ceph secret in each node's libvirtd: what lets a guest's QEMU open its RBD image.

libvirt hands QEMU the cephx key of a ``<disk type='network'>`` through a secret object named
by UUID in the domain XML. The UUID is the lab's (``lab.json`` ``ceph.secret_uuid``), the same on
every node, so a domain migrated to another node finds its secret there. The secret is
persistent (kept in the node's own /etc/libvirt/secrets, which survives power cycles) and
private (libvirt never returns its value). It is set from the host through the node's libvirt
socket, as node provisioning would: never through a pvc job (job arguments are kept in the job
cache) nor on a command line.

Example::

    define(node.libvirt_uri, lab.ceph.secret_uuid, ceph.client_key(lab.ceph))
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from pvc.lab.errors import LabError

USAGE = "pvc-lab client.admin"


def secret_xml(secret_uuid: str) -> str:
    secret = ET.Element("secret", ephemeral="no", private="yes")
    ET.SubElement(secret, "uuid").text = secret_uuid
    usage = ET.SubElement(secret, "usage", type="ceph")
    ET.SubElement(usage, "name").text = USAGE
    return ET.tostring(secret, encoding="unicode")


def define(uri: str, secret_uuid: str, key: bytes) -> None:
    """Define (or update) the secret ``secret_uuid`` holding ``key`` in the libvirtd at ``uri``."""
    import libvirt

    libvirt.registerErrorHandler(lambda _ctx, _err: None, None)  # errors arrive as exceptions; no stderr spam
    try:
        conn = libvirt.open(uri)
    except libvirt.libvirtError as exc:
        raise LabError(f"ceph secret: cannot connect to {uri}: {exc.get_error_message()}") from None
    try:
        for old in conn.listAllSecrets(libvirt.VIR_CONNECT_LIST_SECRETS_EPHEMERAL |
                                       libvirt.VIR_CONNECT_LIST_SECRETS_NO_EPHEMERAL):
            if old.usageID() == USAGE and old.UUIDString() != secret_uuid:
                old.undefine()  # an earlier lab's, in a reused DIR: one secret per usage name
        conn.secretDefineXML(secret_xml(secret_uuid)).setValue(key)
    except libvirt.libvirtError as exc:
        raise LabError(f"ceph secret {secret_uuid} on {uri}: {exc.get_error_message()}") from None
    finally:
        conn.close()
