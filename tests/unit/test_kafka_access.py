"""How a bootstrap carries credentials: parsed into aiokafka's options, printed without the password."""

from __future__ import annotations

import pytest

from planperfect.reachability import Unreachable
from streams.access import KafkaAccess, kafka_address, kafka_options, parse_bootstrap


def test_a_plain_bootstrap_is_plaintext_with_every_server():
    assert kafka_options("b1:9092, b2:9092") == {"bootstrap_servers": ["b1:9092", "b2:9092"],
                                                 "security_protocol": "PLAINTEXT"}


def test_a_sasl_url_gives_the_mechanism_user_and_decoded_password():
    options = kafka_options("sasl_plaintext://app:p%40ss%3Aword@127.0.0.1:19092,127.0.0.1:19094")
    assert options == {"bootstrap_servers": ["127.0.0.1:19092", "127.0.0.1:19094"],
                       "security_protocol": "SASL_PLAINTEXT", "sasl_mechanism": "SCRAM-SHA-256",
                       "sasl_plain_username": "app", "sasl_plain_password": "p@ss:word"}


def test_sasl_ssl_builds_an_ssl_context_and_takes_another_mechanism():
    options = kafka_options("sasl_ssl://app:pw@kafka.example:9093?mechanism=scram-sha-512")
    assert options["security_protocol"] == "SASL_SSL" and options["sasl_mechanism"] == "SCRAM-SHA-512"
    assert options["ssl_context"] is not None


def test_url_round_trips():
    access = KafkaAccess(servers=("h:1", "h:2"), protocol="SASL_PLAINTEXT", mechanism="SCRAM-SHA-256",
                         username="u@x", password="p/w:?")
    assert parse_bootstrap(access.url()) == access


@pytest.mark.parametrize("bootstrap, says", [
    ("kafka://h:9092", "unknown protocol"),
    ("sasl_plaintext://h:9092", "needs a user and password"),
    ("plaintext://u:p@h:9092", "takes no user or password"),
    ("sasl_plaintext://u:p@h:9092?mechanism=MD5", "unknown SASL mechanism"),
    ("sasl_plaintext://u:p@h:9092?tls=1", "unknown option"),
    ("sasl_plaintext://u:p@", "no host:port"),
])
def test_a_bad_bootstrap_is_refused_naming_the_fault(bootstrap, says):
    with pytest.raises(ValueError, match=says):
        parse_bootstrap(bootstrap)


def test_what_is_printed_never_holds_the_password():
    bootstrap = "sasl_plaintext://app:s3cret@127.0.0.1:19092"
    assert kafka_address(bootstrap) == "127.0.0.1:19092"
    assert "s3cret" not in str(Unreachable("Kafka", kafka_address(bootstrap), "connection refused"))
