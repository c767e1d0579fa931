"""Where a network output sends, as values: host, port and TLS settings from a URL.

The syslog URLs (``syslog+udp|tcp|tls://``, :mod:`trioaudit._output.syslog`) and the
RELP URLs (``relp[+tls]://``, :mod:`trioaudit._output.relp`) name a receiver the same
way, and both outputs take the same TLS settings, so the rules live here once: a
setting that one output accepted and the other refused, or spelled differently,
would be a trap in a config file that has both.

``split_endpoint_url``
    The part every such URL shares: a known scheme, ``HOST[:PORT]`` (a DNS name, an
    IPv4 address or a bracketed IPv6 address, optionally with a percent-encoded zone),
    and nothing else -- a user name, a path or a fragment is an error rather than
    ignored. What follows ``?`` is left to the output; :func:`query_options` splits
    it into ``name=value`` pairs.
``TlsOptions``
    ``ca``, ``cert``, ``key``, ``verify``, ``server_name``: read from the query
    (:meth:`TlsOptions.from_query`), overridden by the config file
    (:meth:`TlsOptions.overridden`) and checked for contradictions
    (:meth:`TlsOptions.check`). The daemon turns them into an ``ssl.SSLContext``
    (:mod:`trioaudit._daemon.tls`); nothing here opens a file.

Every mistake is a :class:`ValueError` that names what is wrong, and the URL when
there is one.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

__all__ = [
    "TLS_OPTION_NAMES",
    "EndpointUrl",
    "TlsOptions",
    "canonical_url",
    "is_host_name",
    "query_options",
    "split_endpoint_url",
]

#: The TLS settings a URL's query (or the config file) may give, in documentation order.
TLS_OPTION_NAMES = ("ca", "cert", "key", "verify", "server_name")
#: The settings that are text (file paths, a host name); ``verify`` is a flag.
_TEXT_OPTIONS = ("ca", "cert", "key", "server_name")

_HOST_LABEL = re.compile(r"(?!-)[A-Za-z0-9_-]{1,63}(?<!-)")
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


def is_host_name(name: str) -> bool:
    """Whether *name* is a DNS name (labels of letters, digits, ``-``, ``_``; at most
    253 characters, a trailing dot allowed) or an IPv4 address.

    Labels that are all digits must make a real IPv4 address: ``1.2.3.256`` is a
    typo, not a name any resolver will find. ``_`` is allowed because real host
    names (and DNS records such as SRV names) have it, even if RFC 952 does not.
    """
    labels = name.removesuffix(".").split(".")
    if all(label.isascii() and label.isdigit() for label in labels):
        try:
            ipaddress.IPv4Address(name)
        except ValueError:
            return False
        return True
    return len(name.removesuffix(".")) <= 253 and all(
        _HOST_LABEL.fullmatch(label) for label in labels
    )


def canonical_url(scheme: str, host: str, port: int) -> str:
    """``scheme://host:port``, an IPv6 address in brackets: a target without its
    options, for logs and metrics labels (a key file's path is not a label)."""
    shown = f"[{host}]" if ":" in host else host
    return f"{scheme}://{shown}:{port}"


@dataclass(frozen=True)
class EndpointUrl:
    """A URL taken apart by :func:`split_endpoint_url`.

    Attributes:
        scheme: Lower case; one of the schemes the caller allowed.
        host: A DNS name (lower case), an IPv4 address or an IPv6 address (without
            brackets, in its compressed form, with its zone decoded: ``fe80::1%eth0``).
        port: 1-65535: the URL's, or the scheme's default.
        query: The text after ``?`` (not yet decoded); ``None`` when there is no
            ``?`` at all, ``""`` when there is one with nothing after it.
    """

    scheme: str
    host: str
    port: int
    query: str | None


def split_endpoint_url(url: str, *, protocol: str, default_ports: Mapping[str, int]) -> EndpointUrl:
    """*url* as ``SCHEME://HOST[:PORT][/][?QUERY]``; a :class:`ValueError` names what is
    wrong.

    *default_ports* maps each allowed scheme (lower case, in the order the error
    message lists them) to its port; *protocol* names the output in messages
    ("syslog", "RELP"). Spaces and control characters anywhere, a user name or
    password, a path or a fragment are errors: none has a meaning here, and a URL
    that is silently read differently from what was written hides a mistake.
    """
    if not isinstance(url, str) or not url:
        raise ValueError(f"{protocol} URL: empty")
    if any(ord(char) < 0x21 or ord(char) == 0x7F for char in url):
        raise ValueError(f"{url!r}: contains spaces or control characters")
    try:
        parts = urlsplit(url)
    except ValueError as error:  # Python checks bracketed hosts itself
        if "[" in url or "]" in url:
            raise ValueError(
                f"{url!r}: a host in brackets must be an IPv6 address, closed by ']' ({error})"
            ) from None
        raise ValueError(f"{url!r}: {error}") from None
    scheme = parts.scheme.lower()
    if scheme not in default_ports:
        *others, last = (f"{name}://" for name in default_ports)
        choices = f"{', '.join(others)} or {last}" if others else last
        raise ValueError(f"{url!r}: the scheme must be {choices}")
    netloc = parts.netloc
    if not url.lower().startswith(f"{scheme}://") or not netloc:
        raise ValueError(f"{url!r}: no host (write {scheme}://HOST:PORT)")
    if "@" in netloc:
        raise ValueError(f"{url!r}: a user name or password has no meaning for {protocol}")
    if parts.path not in ("", "/"):
        raise ValueError(f"{url!r}: a path ({parts.path!r}) has no meaning for {protocol}")
    if parts.fragment or url.endswith("#"):
        raise ValueError(f"{url!r}: a fragment ('#...') has no meaning for {protocol}")
    host, port = _host_and_port(url, netloc, default_ports[scheme])
    query = parts.query if parts.query or url.endswith("?") else None
    return EndpointUrl(scheme, host, port, query)


def _host_and_port(url: str, netloc: str, default_port: int) -> tuple[str, int]:
    if netloc.startswith("["):
        literal, _, rest = netloc[1:].partition("]")
        try:  # a zone is percent-encoded: [fe80::1%25eth0]
            host = str(ipaddress.IPv6Address(unquote(literal)))
        except ValueError:
            raise ValueError(f"{url!r}: [{literal}] is not an IPv6 address") from None
        if rest and not rest.startswith(":"):
            raise ValueError(f"{url!r}: expected ':PORT' after the IPv6 address")
        port_text = rest[1:] if rest else None
    else:
        if netloc.count(":") > 1:
            raise ValueError(f"{url!r}: an IPv6 address must be in brackets ([::1]:{default_port})")
        host, colon, after = netloc.partition(":")
        port_text = after if colon else None
        if not is_host_name(host):
            raise ValueError(f"{url!r}: {host!r} is not a host name or address")
        host = host.lower()
    if port_text is None:
        return host, default_port
    if not port_text.isascii() or not port_text.isdigit():
        raise ValueError(f"{url!r}: the port {port_text!r} is not a number")
    port = int(port_text)
    if not 1 <= port <= 65535:
        raise ValueError(f"{url!r}: the port {port} is not 1-65535")
    return host, port


def query_options(url: str, query: str, known: Collection[str]) -> dict[str, str]:
    """The ``name=value`` pairs of *query* (joined by ``&``), the values
    percent-decoded as UTF-8; ``+`` stays a plus sign (file names may have one).

    Only names in *known*, each at most once, and always with ``=``: a typo in a TLS
    setting must be an error, never quietly mean "the default".
    """
    options: dict[str, str] = {}
    for pair in query.split("&"):
        name, equals, raw = pair.partition("=")
        if not equals:
            raise ValueError(f"{url!r}: option {name!r} has no value (write {name}=VALUE)")
        if name not in known:
            raise ValueError(
                f"{url!r}: unknown option {name!r} (known: {', '.join(sorted(known))})"
            )
        if name in options:
            raise ValueError(f"{url!r}: option {name!r} given twice")
        try:
            options[name] = unquote(raw, errors="strict")
        except UnicodeDecodeError:
            raise ValueError(f"{url!r}: option {name!r} is not UTF-8 once decoded") from None
    return options


@dataclass(frozen=True)
class TlsOptions:
    """How an output talks TLS to its receiver; the same five settings for every output.

    Attributes:
        ca: The PEM file of the CAs to trust; ``None``, the system's.
        cert, key: A client certificate (PEM) and its key (``None``: in the
            certificate file), for receivers that authenticate clients.
        verify: Check the receiver's certificate and name (the default); off only
            when asked, and then ``ca`` is not used.
        server_name: The name the receiver's certificate must carry; ``None``, the
            target's host (an IP address is matched against the certificate's IP SANs).
    """

    ca: str | None = None
    cert: str | None = None
    key: str | None = None
    verify: bool = True
    server_name: str | None = None

    @classmethod
    def from_query(cls, url: str, options: Mapping[str, str]) -> TlsOptions:
        """The TLS settings among *options* (as :func:`query_options` returns them):
        ``verify`` is ``true``/``false`` (or ``1``/``0``, ``yes``/``no``,
        ``on``/``off``), the others are taken as written; the rest is ignored."""
        verify = True
        if "verify" in options:
            flag = options["verify"].lower()
            if flag not in _TRUE | _FALSE:
                raise ValueError(
                    f"{url!r}: verify must be true or false, not {options['verify']!r}"
                )
            verify = flag in _TRUE
        return cls(
            ca=options.get("ca"),
            cert=options.get("cert"),
            key=options.get("key"),
            verify=verify,
            server_name=options.get("server_name"),
        )

    def overridden(
        self,
        *,
        ca: str | None = None,
        cert: str | None = None,
        key: str | None = None,
        verify: bool = True,
        server_name: str | None = None,
    ) -> TlsOptions:
        """These settings with those given elsewhere (the config file) on top: a
        ``None`` keeps the value here, *verify* is always taken (a flag has no
        "not given")."""
        return TlsOptions(
            ca=self.ca if ca is None else ca,
            cert=self.cert if cert is None else cert,
            key=self.key if key is None else key,
            verify=verify,
            server_name=self.server_name if server_name is None else server_name,
        )

    def check(self, *, tls: bool, tls_scheme: str, url: str) -> None:
        """A :class:`ValueError` when the settings contradict each other or the
        target: any of them for a target that is not TLS (*tls* false; *tls_scheme*
        and *url* name the scheme that would take them and the target), an empty
        one, a key without its certificate, a server name that is no host name."""
        given = [name for name in _TEXT_OPTIONS if getattr(self, name)]
        if not tls and (given or not self.verify):
            names = given + ([] if self.verify else ["verify"])
            raise ValueError(f"{', '.join(names)}: only for {tls_scheme}://, not {url}")
        for name in _TEXT_OPTIONS:
            value = getattr(self, name)
            if value is not None and not value.strip():
                raise ValueError(f"{name}: empty")
        if self.key and not self.cert:
            raise ValueError("key: given without cert (the client certificate it belongs to)")
        if self.server_name is not None and not is_host_name(self.server_name):
            raise ValueError(f"server_name: {self.server_name!r} is not a host name")
