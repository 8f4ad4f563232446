"""Netlink access for the ``network`` module: namespace handles, facts, and idempotent plans.

``args`` checks arguments before they reach netlink; ``handle`` opens pyroute2 sockets
(optionally inside a named network namespace) and turns netlink errors into typed pvc errors;
``facts`` reads links, addresses and routes into plain dicts; ``plan`` holds the change records
that ``network.*_present`` functions compute and then apply (or only report, in test mode);
``links`` and ``l3`` compute those plans for interfaces and for addresses/routes.
"""
