"""libvirt adapters behind the ``virt`` execution module (:mod:`pvc.modules.virt`).

One job per file: :mod:`.connection` (open, error mapping), :mod:`.domain` (typed VM spec ->
domain XML), :mod:`.facts` (read back what a domain's XML says), :mod:`.migrate` (live migration
with retries and shutdown fallback), :mod:`.events` (libvirt lifecycle events -> pvc bus).
libvirt itself is imported only inside these helpers' functions, so importing the package is cheap.
"""
