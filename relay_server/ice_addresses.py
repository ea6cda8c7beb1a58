"""Keep the relay's WebRTC (ICE) candidates on the address it was told to serve on.

aioice offers host candidates on every interface of the machine (except 127.0.0.1), so a
relay started with `--host 127.0.0.1` would still open UDP ports on every other
interface. `restrict_host_candidates` makes it offer exactly the configured address, or
leaves aioice alone when the relay listens on all addresses (0.0.0.0 or ::).
"""

import ipaddress

import aioice.ice

WILDCARDS = ("0.0.0.0", "::", "")  # noqa: S104 - names of the wildcard addresses


def restrict_host_candidates(host: str) -> bool:
    """Offer only host as an ICE host candidate; False when host is a wildcard or a name."""
    if host in WILDCARDS:
        return False
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False  # a host name: let aioice pick the interfaces

    def only_configured(use_ipv4: bool, use_ipv6: bool) -> list[str]:
        wanted = use_ipv4 if address.version == 4 else use_ipv6
        return [str(address)] if wanted else []

    aioice.ice.get_host_addresses = only_configured
    return True
