"""Alibaba Cloud Log Service (SLS) requests: the signature and the address of a project.

Role in the loop: the one place that knows how an SLS request is signed and routed, shared by
the audit shipper (``shipping/sls.py``, PutLogs) and the ``sls`` log probe
(``detect/probes/sls.py``, GetLogs). SLS has no SDK call here: both speak its HTTP API.

The signature (SLS API reference, "Request signatures"):

    Authorization: LOG <AccessKeyId>:base64(hmac-sha1(<AccessKeySecret>, <string to sign>))

    string to sign = VERB "\\n" Content-MD5 "\\n" Content-Type "\\n" Date "\\n"
                     CanonicalizedLOGHeaders CanonicalizedResource

where the LOG headers are every ``x-log-*`` and ``x-acs-*`` header, lower-cased, sorted, as
``name:value\\n``, and the resource is the path with the query parameters sorted by name
(``?a=1&b=2``), not URL-encoded.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import urllib.parse
from collections.abc import Mapping

__all__ = ["SIGNED_PREFIXES", "endpoint", "signature", "string_to_sign"]

SIGNED_PREFIXES = ("x-log-", "x-acs-")


def string_to_sign(
    *,
    method: str,
    resource: str,
    headers: Mapping[str, str],
    params: Mapping[str, str] | None = None,
) -> str:
    """The exact text SLS signs for a request (see the module docstring)."""
    by_name = {name.lower(): value for name, value in headers.items()}
    signed = "".join(
        f"{name}:{by_name[name]}\n" for name in sorted(by_name) if name.startswith(SIGNED_PREFIXES)
    )
    if params:
        resource += "?" + "&".join(f"{key}={params[key]}" for key in sorted(params))
    return (
        f"{method}\n{by_name.get('content-md5', '')}\n{by_name.get('content-type', '')}\n"
        f"{by_name['date']}\n{signed}{resource}"
    )


def signature(
    secret: str,
    *,
    method: str,
    resource: str,
    headers: Mapping[str, str],
    params: Mapping[str, str] | None = None,
) -> str:
    """Base64 of HMAC-SHA1 over ``string_to_sign`` with the AccessKey secret."""
    text = string_to_sign(method=method, resource=resource, headers=headers, params=params)
    digest = hmac.new(secret.encode("utf-8"), text.encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def endpoint(address: str, project: str) -> tuple[str, str | None]:
    """(base URL, Host header or None) for a project at a region endpoint.

    SLS routes by host name (``<project>.<endpoint>``). An endpoint given as an IP address
    (a private link, or a local stand-in) is connected to as it is, and the project goes
    into the Host header instead.
    """
    if "://" not in address:
        address = "https://" + address
    parts = urllib.parse.urlsplit(address)
    host = parts.hostname or ""
    shown = f"[{host}]" if ":" in host else host
    netloc = shown if parts.port is None else f"{shown}:{parts.port}"
    if _is_address(host):
        return f"{parts.scheme}://{netloc}", f"{project}.{netloc}"
    return f"{parts.scheme}://{project}.{netloc}", None


def _is_address(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
