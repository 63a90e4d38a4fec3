"""A second, private Mosquitto started by the test on a free port with a password file and an ACL (and, for TLS, a
CA and server certificate made with openssl): the right login works, a wrong one gives a sentence naming the fix."""

from __future__ import annotations

import contextlib
import getpass
import json
import shutil
import socket
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from core.heartbeats import WorkerState
from core.settings import SettingsError, load_settings
from tests.support import wait_until
from tracking.observation import Observation
from tracking.sources.mqtt import BrokerConfig, MqttConsumer

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
PASSWD = shutil.which("mosquitto_passwd") or "mosquitto_passwd"
DEVICE = "iBeacon:e2c56db5-dffb-48d2-b060-d0f5a71096e0-1-{}"
PREFIX = "site-a/"

pytestmark = pytest.mark.skipif(
    not (Path(MOSQUITTO).exists() and shutil.which(PASSWD)),
    reason="needs mosquitto and mosquitto_passwd (apt-get install mosquitto)",
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(condition: Callable[[], bool], seconds: float = 15.0) -> None:
    wait_until(condition, timeout=seconds, every=0.05)


@dataclass
class Broker:
    port: int
    folder: Path
    tls: bool = False


@contextlib.contextmanager
def _start(folder: Path, tls_lines: str = "") -> Iterator[Broker]:
    passwords = folder / "passwd"
    passwords.write_text("")
    for user, password in (("vendtrack", "engine-secret"), ("gateway-icu", "gateway-secret"), ("auditor", "a-secret")):
        subprocess.run([PASSWD, "-b", str(passwords), user, password], check=True, capture_output=True)
    acl = folder / "acl"
    acl.write_text(
        f"user vendtrack\ntopic read {PREFIX}espresense/#\ntopic read {PREFIX}vendtrack/adverts/#\n\n"
        f"user gateway-icu\ntopic write {PREFIX}espresense/#\ntopic write site-b/espresense/#\n\n"
        "user auditor\ntopic read site-b/#\n"
    )
    port = _free_port()
    config = folder / "mosquitto.conf"
    config.write_text(
        f"listener {port} 127.0.0.1\nallow_anonymous false\npassword_file {passwords}\nacl_file {acl}\n"
        f"persistence false\nuser {getpass.getuser()}\n{tls_lines}"  # as root it would switch to `mosquitto`
    )
    process = subprocess.Popen([MOSQUITTO, "-c", str(config)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:

        def listening() -> bool:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            except OSError:
                assert process.poll() is None, process.stdout.read() if process.stdout else b""
                return False
            return True

        wait_until(listening, what=f"mosquitto to listen on {port}", every=0.05)
        yield Broker(port, folder, tls=bool(tls_lines))
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    with _start(tmp_path) as running:
        yield running


def _consumer(heard: list[Observation], config: BrokerConfig) -> MqttConsumer:
    consumer = MqttConsumer(heard.extend, lambda *_: None, prefix=PREFIX, group="engines", broker=config,
                            backoff=(0.2, 1.0))  # fmt: skip
    consumer.start()
    return consumer


def _gateway(port: int, user: str, password: str, tls_ca: Path | None = None) -> mqtt.Client:
    client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    client.username_pw_set(user, password)
    if tls_ca is not None:
        client.tls_set(ca_certs=str(tls_ca))
    client.connect("127.0.0.1", port)
    client.loop_start()
    return client


def _publish(client: mqtt.Client, minor: int) -> None:
    payload = json.dumps({"id": DEVICE.format(minor), "rssi": -60})
    client.publish(f"{PREFIX}espresense/devices/x/icu-1", payload, qos=1).wait_for_publish(5)


def test_right_credentials_receive_and_wrong_ones_say_why(broker: Broker) -> None:
    heard: list[Observation] = []
    right = _consumer(heard, BrokerConfig("127.0.0.1", broker.port, "vendtrack", "engine-secret"))
    wrong = _consumer([], BrokerConfig("127.0.0.1", broker.port, "vendtrack", "guessed"))
    nobody = _consumer([], BrokerConfig("127.0.0.1", broker.port))
    gateway = _gateway(broker.port, "gateway-icu", "gateway-secret")
    try:
        wait_for(lambda: right.subscribed)
        _publish(gateway, 1)
        wait_for(lambda: len(heard) == 1)
        for refused in (wrong, nobody):
            wait_for(lambda r=refused: r.supervisor.state == WorkerState.DOWN and r.supervisor.outages >= 1)  # type: ignore[misc]
            assert "refused the connection" in refused.supervisor.last_error
            assert "VENDTRACK_MQTT_USERNAME and VENDTRACK_MQTT_PASSWORD" in refused.supervisor.last_error
            assert not refused.connected and refused.heartbeat().state == WorkerState.DOWN
    finally:
        gateway.loop_stop()
        gateway.disconnect()
        for consumer in (right, wrong, nobody):
            consumer.stop()
    assert heard[0].tag_key.endswith("-1-1") and right.supervisor.state == WorkerState.STOPPED


def test_the_acl_keeps_the_engine_from_topics_it_may_not_read(broker: Broker) -> None:
    heard: list[Observation] = []
    audited: list[Observation] = []
    engine_login = BrokerConfig("127.0.0.1", broker.port, "vendtrack", "engine-secret")
    outside = MqttConsumer(heard.extend, lambda *_: None, prefix="site-b/", group=None, broker=engine_login)
    auditor = MqttConsumer(audited.extend, lambda *_: None, prefix="site-b/", group=None,
                           broker=BrokerConfig("127.0.0.1", broker.port, "auditor", "a-secret"))  # fmt: skip
    outside.start()
    auditor.start()
    gateway = _gateway(broker.port, "gateway-icu", "gateway-secret")
    try:
        wait_for(lambda: outside.subscribed and auditor.subscribed)
        payload = json.dumps({"id": DEVICE.format(4), "rssi": -60})
        gateway.publish("site-b/espresense/devices/x/icu-1", payload, qos=1).wait_for_publish(5)
        wait_for(lambda: len(audited) == 1)  # the message was there to be read, by those allowed to
    finally:
        gateway.loop_stop()
        gateway.disconnect()
        outside.stop()
        auditor.stop()
    assert heard == [] and outside.messages == 0


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True)


def _certificates(folder: Path) -> tuple[Path, Path, Path]:
    ca_key, ca, key, csr, cert = (folder / n for n in ("ca.key", "ca.pem", "server.key", "server.csr", "server.pem"))
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(ca_key), "-out", str(ca), "-days", "2",
             "-subj", "/CN=vendtrack test CA")  # fmt: skip
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(csr), "-subj", "/CN=127.0.0.1")
    extensions = folder / "san.ext"
    extensions.write_text("subjectAltName = IP:127.0.0.1\n")
    _openssl("x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key), "-CAcreateserial", "-out",
             str(cert), "-days", "2", "-extfile", str(extensions))  # fmt: skip
    return ca, cert, key


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl to make test certificates")
def test_tls_with_the_right_ca_works_and_a_wrong_ca_says_so(tmp_path: Path) -> None:
    ca, cert, key = _certificates(tmp_path)
    other = tmp_path / "other"
    other.mkdir()
    wrong_ca, _, _ = _certificates(other)
    tls = f"cafile {ca}\ncertfile {cert}\nkeyfile {key}\n"
    with _start(tmp_path, tls) as broker:
        heard: list[Observation] = []
        config = BrokerConfig("127.0.0.1", broker.port, "vendtrack", "engine-secret", True, str(ca))
        right = _consumer(heard, config)
        wrong = _consumer([], BrokerConfig("127.0.0.1", broker.port, "vendtrack", "engine-secret", True, str(wrong_ca)))
        gateway = _gateway(broker.port, "gateway-icu", "gateway-secret", tls_ca=ca)
        try:
            wait_for(lambda: right.subscribed)
            _publish(gateway, 3)
            wait_for(lambda: len(heard) == 1)
            wait_for(lambda: wrong.supervisor.outages >= 1)
            assert "TLS with mqtts://127.0.0.1" in wrong.supervisor.last_error
            assert "VENDTRACK_MQTT_CA_FILE" in wrong.supervisor.last_error
        finally:
            gateway.loop_stop()
            gateway.disconnect()
            right.stop()
            wrong.stop()


def test_broker_settings_stop_the_start_naming_the_variable(tmp_path: Path) -> None:
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate")
    cases = {
        "VENDTRACK_MQTT_PORT": {"VENDTRACK_MQTT_PORT": "70000"},
        "VENDTRACK_MQTT_TLS": {"VENDTRACK_MQTT_TLS": "maybe"},
        "VENDTRACK_MQTT_CA_FILE=": {"VENDTRACK_MQTT_TLS": "1", "VENDTRACK_MQTT_CA_FILE": str(tmp_path / "missing.pem")},
        "is not a PEM CA bundle": {"VENDTRACK_MQTT_TLS": "1", "VENDTRACK_MQTT_CA_FILE": str(junk)},
        "VENDTRACK_MQTT_TLS is off": {"VENDTRACK_MQTT_CA_FILE": str(junk)},
        "go together": {"VENDTRACK_MQTT_TLS": "1", "VENDTRACK_MQTT_CERT_FILE": str(junk)},
        "without VENDTRACK_MQTT_USERNAME": {"VENDTRACK_MQTT_PASSWORD": "x"},
    }
    for expected, environ in cases.items():
        with pytest.raises(SettingsError) as caught:
            load_settings(environ, instance_path=tmp_path)
        assert expected in str(caught.value), (environ, str(caught.value))
    good = load_settings({"VENDTRACK_MQTT_USERNAME": "vendtrack", "VENDTRACK_MQTT_PASSWORD": "s"}, tmp_path)
    assert (good.mqtt_username, good.mqtt_tls) == ("vendtrack", False)
