"""The SSRF guard: private, loopback, link-local (and unspecified, multicast, reserved) addresses are refused after
DNS resolution, and the connection goes to the address that was checked."""
import socket

import pytest

from services.notify.webhooks.guard import UnsafeUrl, check_url, refusal
from services.notify.webhooks.transport import DeliveryFailed, post
from tests.webhook_receiver import Receiver


@pytest.mark.parametrize("address,reason", [
    ("127.0.0.1", "loopback"), ("::1", "loopback"), ("10.1.2.3", "private"), ("172.16.5.4", "private"),
    ("192.168.0.10", "private"), ("169.254.169.254", "link-local"), ("fe80::1", "link-local"),
    ("0.0.0.0", "unspecified"), ("224.0.0.1", "multicast"), ("240.0.0.1", "reserved"), ("fc00::1", "private"),
    ("::ffff:127.0.0.1", "loopback"), ("100.64.0.1", "not public"),
])
def test_non_public_addresses_are_refused(address, reason):
    assert refusal(address) == reason


@pytest.mark.parametrize("address", ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111"])
def test_public_addresses_pass(address):
    assert refusal(address) is None


def test_a_name_resolving_to_loopback_is_refused_after_resolution():
    with pytest.raises(UnsafeUrl, match="localhost resolves to .* loopback"):
        check_url("http://localhost:9/hook", allow_private=False)


def test_any_private_answer_refuses_the_name():
    def resolver(host, port):
        return ["93.184.216.34", "10.0.0.7"]

    with pytest.raises(UnsafeUrl, match="10.0.0.7, a private address"):
        check_url("https://hooks.example.com/in", allow_private=False, resolver=resolver)


def test_a_public_answer_gives_the_target_to_connect_to():
    target = check_url("https://hooks.example.com:8443/in?x=1", False, resolver=lambda host, port: ["93.184.216.34"])
    assert (target.scheme, target.host, target.port, target.address, target.path) == \
        ("https", "hooks.example.com", 8443, "93.184.216.34", "/in?x=1")


@pytest.mark.parametrize("url,problem", [
    ("ftp://example.com/x", "http:// or https://"), ("http:///x", "no host"), ("", "required"),
    ("http://user:pw@example.com/", "user name"), ("http://example.com:99999/", "port"),
])
def test_malformed_urls_say_what_is_wrong(url, problem):
    with pytest.raises(UnsafeUrl, match=problem):
        check_url(url, allow_private=True, resolver=lambda host, port: ["93.184.216.34"])


def test_unresolvable_name_is_refused():
    with pytest.raises(UnsafeUrl, match="does not resolve"):
        check_url("http://no-such-host.invalid/x", allow_private=True)


def test_allowed_private_connects_to_the_checked_address_with_the_names_host_header():
    receiver = Receiver(secret="whsec_" + "MDEyMzQ1Njc4OWFiY2RlZmdoaWprbG1u").start()
    try:
        # The name resolves (by this resolver) to the receiver; a later DNS answer could not redirect the connection.
        target = check_url(f"http://hooks.example.test:{receiver.port}/hooks", True,
                           resolver=lambda host, port: ["127.0.0.1"])
        reply = post(target, "{}", {"webhook-id": "msg_x"}, timeout=5)
        assert reply.status == 401  # unsigned, so the receiver refuses it, but it was reached
        assert receiver.requests[0].headers["Host"] == f"hooks.example.test:{receiver.port}"
    finally:
        receiver.stop()


def test_a_silent_server_times_out():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)  # accepts connections in the kernel but never answers
    try:
        target = check_url(f"http://127.0.0.1:{listener.getsockname()[1]}/", True)
        with pytest.raises(DeliveryFailed, match="timed out"):
            post(target, "{}", {}, timeout=0.3)
    finally:
        listener.close()
