"""pvc: Salt-style remote execution and orchestration for hyperconverged KVM clusters.

Kept import-free on purpose: `pvc --version` must stay fast, so subpackages import
their heavy dependencies (zmq, libsodium, libvirt) only when used.
"""

__version__ = "0.1.0"
PROTOCOL_VERSION = 2
