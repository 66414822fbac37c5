"""A reverse proxy's signed-in user (single sign-on), trusted only from the proxy's own addresses.

Off unless ``proxy_user_header`` is set. A request from an address in ``proxy_addresses`` whose header names a user
acts as that user: with the role and projects of the token of that name (``expgraph token create NAME``, whose
secret the user never needs), or as a reader when there is none. From any other address the header is ignored, so
a visitor who reaches the server around the proxy cannot claim to be someone.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass

from expgraph.settings import Settings, SettingsError
from expgraph.team.tokens import Token, TokenStore

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class ProxyTrust:
    """The header to read and the peers trusted to send it."""

    header: str
    networks: tuple[IPNetwork, ...]

    @classmethod
    def from_settings(cls, settings: Settings) -> ProxyTrust | None:
        """None when the setting is off; a bad address list fails at start, naming the setting."""
        header = settings.proxy_user_header.strip().lower()
        if not header:
            return None
        networks = []
        for part in filter(None, (p.strip() for p in settings.proxy_addresses.split(","))):
            try:
                networks.append(ipaddress.ip_network(part, strict=False))
            except ValueError:
                raise SettingsError(f"setting 'proxy_addresses': {part!r} is not an address or network") from None
        if not networks:
            raise SettingsError("setting 'proxy_user_header' is set but 'proxy_addresses' is empty: name the reverse "
                                "proxy's addresses, whose header alone is trusted")
        return cls(header, tuple(networks))

    def trusts(self, peer: str | None) -> bool:
        try:
            address = ipaddress.ip_address(peer or "")
        except ValueError:
            return False
        return any(address in network for network in self.networks)

    def user(self, headers: Mapping[str, str], peer: str | None, tokens: TokenStore) -> Token | None:
        """The signed-in user's token for a request from ``peer``, or None (no header, or an untrusted peer)."""
        name = headers.get(self.header, "").strip()
        if not name or not self.trusts(peer):
            return None
        return tokens.named(name) or Token(name, "reader", (), "")
