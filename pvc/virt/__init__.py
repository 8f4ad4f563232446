"""libvirt adapters behind the ``virt`` execution module (:mod:`pvc.modules.virt`), the state
engine and the lab: each takes a URI or a handle (and a handle cache), never a job context.

One job per file: :mod:`.connection` (open, error mapping), :mod:`.domain` (typed VM spec ->
domain XML), :mod:`.facts` (read back what a domain's XML says), :mod:`.migrate` (live migration
with retries and shutdown fallback), :mod:`.events` (libvirt lifecycle events -> pvc bus).
libvirt itself is imported only inside these helpers' functions, so importing the package is cheap.
"""
