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


@pytest.fixture
def tls_receiver(tmp_path):
    """An HTTPS server on 127.0.0.1 whose self-signed certificate names hooks.example.test; it records the SNI name."""
    import ssl
    import subprocess
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
                    "/CN=hooks.example.test", "-addext", "subjectAltName=DNS:hooks.example.test",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True, timeout=60)
    seen: list[str | None] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *_args):
            pass

    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(cert, key)
    server_context.sni_callback = lambda sock, name, ctx: seen.append(name)
    server = HTTPServer(("127.0.0.1", 0), Handler)
    server.socket = server_context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    client_context = ssl.create_default_context(cafile=str(cert))
    yield server.server_address[1], client_context, seen
    server.shutdown()
    server.server_close()


def test_https_goes_to_the_checked_address_with_the_names_sni_and_certificate_check(tls_receiver):
    port, trusted, seen = tls_receiver
    target = check_url(f"https://hooks.example.test:{port}/in", True, resolver=lambda host, port: ["127.0.0.1"])
    assert post(target, "{}", {}, timeout=5, tls=trusted).status == 204
    assert seen == ["hooks.example.test"]
    wrong_name = check_url(f"https://other.example.test:{port}/in", True, resolver=lambda host, port: ["127.0.0.1"])
    with pytest.raises(DeliveryFailed, match="certificate|hostname"):
        post(wrong_name, "{}", {}, timeout=5, tls=trusted)
