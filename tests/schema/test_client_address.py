"""Which address a request comes from, and when X-Forwarded-For is believed."""

from __future__ import annotations

import pytest

from db.throttle import LoginLimits
from schema.client_address import TrustedProxies, client_address
from settings import ConfigError, Settings

PROXIES = TrustedProxies.parse("10.0.0.0/8, 192.168.1.1, 2001:db8::/32")


def address(peer: str | None, *forwarded: str, trusted: TrustedProxies = PROXIES) -> str | None:
    headers = [(b"x-forwarded-for", value.encode()) for value in forwarded]
    return client_address(headers, None if peer is None else (peer, 4321), trusted)


def test_without_trusted_proxies_the_peer_is_the_client() -> None:
    nobody = TrustedProxies()
    assert address("203.0.113.1", trusted=nobody) == "203.0.113.1"
    assert address("10.0.0.1", "198.51.100.1", trusted=nobody) == "10.0.0.1"
    assert address(None, "198.51.100.1", trusted=nobody) is None


def test_an_untrusted_peer_cannot_name_another_address() -> None:
    assert address("203.0.113.1", "198.51.100.1") == "203.0.113.1"


def test_a_trusted_peer_names_the_rightmost_address_that_is_not_a_proxy() -> None:
    assert address("10.0.0.5", "198.51.100.1") == "198.51.100.1"
    assert address("10.0.0.5", "6.6.6.6, 198.51.100.1, 10.1.1.1, 192.168.1.1") == "198.51.100.1"
    # Several headers read as one list, in order.
    assert address("10.0.0.5", "6.6.6.6, 198.51.100.1", "10.1.1.1") == "198.51.100.1"
    assert address("2001:db8::7", "[2001:db8:ffff::1]:443, 2001:db8::8") == "2001:db8:ffff::1"


def test_ports_and_spellings_do_not_change_the_address() -> None:
    assert address("10.0.0.5", "198.51.100.1:5555") == "198.51.100.1"
    assert address("10.0.0.5", "[2001:0DB9::1]:80") == "2001:db9::1"
    assert address("10.0.0.5", "2001:db9:0::1") == "2001:db9::1"
    assert address("::ffff:10.0.0.5", "::ffff:198.51.100.1") == "198.51.100.1"


def test_a_trusted_peer_without_forwarded_for_is_itself_the_client() -> None:
    assert address("10.0.0.5") == "10.0.0.5"
    assert address("10.0.0.5", " , ") == "10.0.0.5"


def test_when_every_hop_is_trusted_the_leftmost_is_the_client() -> None:
    assert address("10.0.0.5", "10.1.1.1, 10.2.2.2") == "10.1.1.1"


def test_trusting_every_peer_takes_the_leftmost() -> None:
    everyone = TrustedProxies.parse("*")
    assert address("203.0.113.1", "198.51.100.1, 6.6.6.6", trusted=everyone) == "198.51.100.1"


def test_the_settings() -> None:
    settings = Settings.from_env(
        {
            "STOREFRONT_LOGIN_MAX_FAILURES_PER_ACCOUNT": "5",
            "STOREFRONT_LOGIN_MAX_FAILURES_PER_ADDRESS": "50",
            "STOREFRONT_SIGN_UP_MAX_PER_ADDRESS": "7",
            "STOREFRONT_LOGIN_WINDOW_SECONDS": "60",
            "STOREFRONT_FORWARDED_ALLOW_IPS": "10.0.0.1, fd00::/8",
        }
    )
    assert settings.login_limits == LoginLimits(
        max_failures_per_account=5,
        max_failures_per_address=50,
        max_sign_ups_per_address=7,
        window_seconds=60,
    )
    assert "10.0.0.1" in settings.forwarded_allow_ips
    assert "fd12::1" in settings.forwarded_allow_ips
    assert "10.0.0.2" not in settings.forwarded_allow_ips

    defaults = Settings.from_env({})
    assert defaults.login_limits == LoginLimits(
        max_failures_per_account=10,
        max_failures_per_address=100,
        max_sign_ups_per_address=20,
        window_seconds=900,
    )
    assert defaults.forwarded_allow_ips == TrustedProxies()


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("STOREFRONT_FORWARDED_ALLOW_IPS", "10.0.0.1, proxy.internal"),
        ("STOREFRONT_LOGIN_MAX_FAILURES_PER_ACCOUNT", "0"),
        ("STOREFRONT_LOGIN_WINDOW_SECONDS", "soon"),
    ],
)
def test_a_wrong_setting_is_a_config_error(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name):
        Settings.from_env({name: value})
