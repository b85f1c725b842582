"""The stand-ins agree with the official clients, so the probes' tests are not self-consistent.

The sls probe signs its own requests; the SLS stand-in checks them with its own code. Both
could share one misreading of the documented signature. Here the official SDK
(aliyun-log-python-sdk) queries the same stand-in: it must be accepted, and refused with a
wrong secret, exactly as the service does. (The cls probe runs the official Tencent SDK
itself, so its tests already are this check.)
"""

from __future__ import annotations

import time

import pytest
from aliyun import log as aliyun_log  # the test extra installs it: no silent skip

from support.log_platforms import SlsStandIn


def _client(port: int, secret: str) -> object:
    client = aliyun_log.LogClient(f"127.0.0.1:{port}", "LTAI-sdk", secret)
    # The SDK sends to <project>.<endpoint> unless the endpoint is a bare IP address (it does
    # not recognise one followed by a port), and uses GetLogs v2 unless told otherwise: the
    # probe speaks the documented v1 GET.
    client._isRowIp = True
    client._get_logs_v2_enabled = False
    return client


def test_the_official_sls_sdk_is_accepted_and_its_bad_signature_refused() -> None:
    standin = SlsStandIn(project="ops-logs", logstore="syslog", keys={"LTAI-sdk": "secret-1"})
    now = int(time.time())
    standin.add(time=now - 5, content="oom-kill one", topic="web-1")
    standin.add(time=now - 3, content="oom-kill two", topic="web-1")
    standin.add(time=now - 2, content="quiet", topic="web-1")
    with standin.in_thread():
        good = _client(standin.port, "secret-1")
        counted = good.get_log(  # type: ignore[attr-defined]
            "ops-logs",
            "syslog",
            now - 60,
            now + 1,
            topic="web-1",
            query='"oom-kill" | select count(*) as count',
        )
        newest = good.get_log(  # type: ignore[attr-defined]
            "ops-logs", "syslog", now - 60, now + 1, query='"oom-kill"', size=1, reverse=True
        )
        bad = _client(standin.port, "not-the-secret")
        with pytest.raises(aliyun_log.LogException) as refused:
            bad.get_log("ops-logs", "syslog", now - 60, now + 1, query="*")  # type: ignore[attr-defined]
    assert [log.get_contents() for log in counted.get_logs()] == [{"count": "2"}]
    assert [log.get_contents()["content"] for log in newest.get_logs()] == ["oom-kill two"]
    assert refused.value.get_error_code() == "SignatureNotMatch"
    # The SDK signs x-acs-/x-log- headers and sends x-log-date unsigned: both were checked.
    assert "x-log-date" in {name.lower() for name in standin.seen[0].headers}
