"""The URLs a request may name for its inputs, when the operator allowed their hosts (`--allow-url-host`).

Only https, only hosts on the list (a name exactly, or a '.suffix' for its subdomains), and never an address in the
server's own networks: every address the name resolves to, and the address each connection actually reaches
(checked by the library's guarded download, `media.fetch.guarded`, also after redirects), must be a public one,
not loopback, private, link-local, shared, reserved or multicast. The download keeps the library's limits (time
and bytes, docs/inputs.md). Without a list, every URL is refused, as every file path always is.
"""

from __future__ import annotations

import ipaddress
import socket
import urllib.parse
from collections.abc import Mapping, Sequence
from typing import Any

from ..errors import SpecError
from .requests import upload_hint

FLAG = "--allow-url-host"


def is_public(address: str) -> bool:
    """Whether an IP address is a public one (an IPv4 address mapped into IPv6 judged as itself)."""
    try:
        ip: Any = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return bool(ip.is_global) and not ip.is_multicast


def host_allowed(host: str, allowed: Sequence[str]) -> bool:
    """`host` is on the list: equal to an entry, or under an entry that starts with a dot."""
    host = host.lower().rstrip(".")
    return any(host == entry or (entry.startswith(".") and host.endswith(entry)) for entry in allowed)


class HostGuard:
    """The server's guard for downloads (`media.fetch.Guard`): the allowed hosts, https, public addresses."""

    def __init__(self, allowed: Sequence[str]):
        self.allowed = tuple(allowed)

    def check_url(self, url: str, field: str) -> None:
        """Refuses (SpecError naming `field`) a URL that isn't https on an allowed host resolving to public
        addresses only."""
        parts = urllib.parse.urlsplit(url)
        shown = f"{parts.scheme}://{parts.hostname or ''}" if parts.scheme else repr(url[:60])
        if not self.allowed:
            raise SpecError(
                f"{field}: this server fetches no URLs (its operator can allow hosts with {FLAG}); "
                f"{upload_hint(field)}",
                field=field,
            )
        if parts.scheme.lower() != "https":
            raise SpecError(f"{field}: {shown} is not an https:// URL; this server fetches https only", field=field)
        host = parts.hostname or ""
        if not host_allowed(host, self.allowed):
            raise SpecError(
                f"{field}: {host!r} is not a host this server fetches from ({FLAG} allows "
                f"{', '.join(self.allowed)}); or {upload_hint(field)}",
                field=field,
            )
        try:
            found = socket.getaddrinfo(host, parts.port or 443, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError):
            raise SpecError(f"{field}: {host!r} does not resolve; check the URL", field=field) from None
        for *_, address in found:
            self.check_address(str(address[0]), url, field)

    def check_address(self, address: str, url: str, field: str) -> None:
        if not is_public(address):
            host = urllib.parse.urlsplit(url).hostname
            raise SpecError(
                f"{field}: {host!r} leads to {address}, a loopback, private, link-local or reserved address; "
                "this server never fetches from its own networks",
                field=field,
            )


def check_inputs(body: dict[str, Any], fields: Sequence[str], allowed: Sequence[str]) -> None:
    """Each input field of a request body that is set must be an allowed URL (a list: each item); a path, or a
    URL with no list configured, is refused naming the field."""
    guard = HostGuard(allowed)
    for name in fields:
        value = body.get(name)
        if value is None:
            continue
        for item in value if isinstance(value, list) else [value]:
            if not isinstance(item, str) or "://" not in item:
                where = f"name https URLs on the hosts {FLAG} allows, or " if allowed else ""
                raise SpecError(
                    f"{name}: the server reads no files named in a request; {where}{upload_hint(name)}", field=name
                )
            guard.check_url(item, name)


def spec_with_inputs(body: Mapping[str, Any], models: Mapping[str, str], allowed: Sequence[str]) -> dict[str, Any]:
    """`requests.spec_from_request` for a server with `allowed` hosts: the inputs a body names must be allowed
    URLs (`check_inputs`; without a list, every input named is refused as before); they go into the spec as
    named, to be downloaded through the `HostGuard`."""
    from .requests import MEDIA_FIELDS, spec_from_request

    inputs = {k: body[k] for k in MEDIA_FIELDS if body.get(k) is not None}
    check_inputs(inputs, MEDIA_FIELDS, allowed)
    spec = spec_from_request({k: v for k, v in body.items() if k not in inputs}, models)
    return {**spec, **inputs}
