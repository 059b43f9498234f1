#!/usr/bin/env python3
"""Ferry client in pure Python (standard library only, Python 3.8+).

A module and a command-line tool for the Ferry protocol, version 1 (docs/protocol.md, docs/protocol.md):

    python3 ferry_client.py --server HOST:PORT put LOCAL [REMOTE] [--force]
    python3 ferry_client.py --server HOST:PORT get REMOTE [LOCAL] [--force]
    python3 ferry_client.py --server HOST:PORT ls [PATH]
    python3 ferry_client.py --server HOST:PORT echo TEXT...

As a module::

    from ferry_client import FerryClient, FerryError
    with FerryClient.connect("127.0.0.1", 7447) as client:
        client.put("local.bin", "remote.bin", force=True)
        client.get("remote.bin", "copy.bin")
        for entry in client.ls(""):
            print(entry["name"], entry["size"])

Framing (protocol.md §2): every frame is a 4-byte little-endian header length (``struct '<I'``), a UTF-8 JSON header
that always has ``"cmd"``, then a body whose length the header declares (``bodysize``; for the classic ``put`` only,
``filesize``). TCP is a byte stream, so frames are read with a loop that gets *exactly* N bytes: one ``recv`` may
return part of a frame or parts of several (the "sticky packet" problem). File bodies are streamed in 1 MiB pieces;
a whole file is never held in memory.

Errors: an error frame from the server raises :class:`FerryError` with its ``code`` and ``message``. The client raises
the same class for what it detects itself (``truncated_frame`` when the server closes mid-frame, ``unexpected_frame``
for a reply of the wrong kind, ``checksum_mismatch`` when a download does not match the server's hash,
``already_exists`` when a local download target exists without ``force``). The connection is unusable after a fatal
error (``error.fatal``).

Logins: this client does not log in yet; it talks to servers started with ``--insecure-no-auth``. A caller that
holds credentials (``credentials=(user, key)``; the command-line tool takes them from FERRY_USER and FERRY_KEY, the
variables of the ``ferry`` command) expects a server that proves it knows the key, as the reference client does. Such
a client refuses a server whose hello asks for no login with ``server_not_authenticated`` before sending anything
else: that server may be an impostor collecting uploads. (A server that asks for a login gets
``authentication_required``.)

Exit codes of the command-line tool: 0 success; 1 any error not listed; 2 bad command line; 3 the server could not
be reached (connection refused, unknown host, connect timeout); 5 ``authentication_required`` /
``server_not_authenticated``; 6 ``not_found``; 7 ``already_exists``; 10 ``path_invalid`` / ``path_escapes_root``; 12 a
local file could not be read or written. Failures are printed on stderr as ``ferry: MESSAGE (code)``.
"""

import argparse
import hashlib
import json
import os
import secrets
import socket
import struct
import sys
import threading

__all__ = [
    "AGENT",
    "PROTOCOL_VERSION",
    "FerryClient",
    "FerryError",
    "FerryUnreachable",
    "classic_upload",
    "exit_code_for",
    "main",
    "parse_server",
]

PROTOCOL_VERSION = 1
AGENT = "ferry-python/0.1"
FEATURES = ["echo", "get", "ls", "put"]
DEFAULT_PORT = 7447
CHECKSUM = "sha256"

PIECE = 1024 * 1024  # file bodies move in pieces of this size (put_data frames, download reads)
MAX_HEADER_BYTES = 65536  # the reference client's limit for received headers (§2.1)
MAX_SMALL_BODY = 512 * 1024 * 1024  # largest body read into memory (listings, resume hashes, error-path skips)
CONNECT_TIMEOUT = 10.0  # TCP connect plus hello (§2.5, like the reference client)

_LENGTH = struct.Struct("<I")


class FerryError(Exception):
    """An error frame from the server (``code`` is its wire name) or one the client detected itself."""

    def __init__(self, code, message, fatal=False):
        super().__init__(code, message)
        self.code = code
        self.message = message
        self.fatal = fatal

    def __str__(self):
        return "%s (%s)" % (self.message, self.code)


class FerryUnreachable(FerryError):
    """The server could not be reached: nothing listening, unknown host, connect or hello timeout."""


# -- framing ----------------------------------------------------------------------------------------------------------


def encode_header(header):
    """Compact UTF-8 JSON, non-ASCII as raw UTF-8 like the reference implementation (§2.2)."""
    try:
        return json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError as ex:
        # A str with lone surrogates (e.g. an undecodable local file name) cannot be sent as UTF-8.
        raise FerryError("path_invalid", "A name is not valid Unicode: %s." % ex) from None


def frame_prefix(header):
    """The 4-byte length and the header bytes of a frame; the caller sends the body after it."""
    head = encode_header(header)
    return _LENGTH.pack(len(head)) + head


def body_length(header):
    """B for a received header, by the rule of §2.3 (``bodysize``; else ``filesize`` of a ``put``; else 0)."""
    if "bodysize" in header:
        value = header["bodysize"]
    elif header.get("cmd") == "put" and "filesize" in header:
        value = header["filesize"]
    else:
        return 0
    if type(value) is not int or not 0 <= value <= 2 ** 63 - 1:  # bool is an int subclass: refuse it too
        raise FerryError("body_size_invalid", "The server declared an invalid body size %r." % (value,), fatal=True)
    return value


class _Connection:
    """A socket with exact-length reads: the only place that calls recv."""

    def __init__(self, sock):
        self.sock = sock
        self.broken = False

    def recv_into_exact(self, view):
        """Fills the whole memoryview, however many recv calls it takes."""
        got = 0
        total = len(view)
        while got < total:
            try:
                n = self.sock.recv_into(view[got:], total - got)
            except socket.timeout:
                self.broken = True
                raise FerryError("idle_timeout", "The server sent nothing for too long.", fatal=True) from None
            except OSError as ex:
                self.broken = True
                raise FerryError("truncated_frame", "The connection broke while reading: %s." % ex, fatal=True) from None
            if n == 0:
                self.broken = True
                raise FerryError("truncated_frame", "The server closed the connection in the middle of a frame.", fatal=True)
            got += n

    def recv_exact(self, n):
        buf = bytearray(n)
        if n:
            self.recv_into_exact(memoryview(buf))
        return bytes(buf)

    def read_header(self):
        """Reads one frame's length and header; the caller must then consume exactly body_length(header) bytes."""
        prefix = bytearray(4)
        view = memoryview(prefix)
        try:
            n = self.sock.recv_into(view, 4)
        except socket.timeout:
            self.broken = True
            raise FerryError("idle_timeout", "The server sent no reply in time.", fatal=True) from None
        except OSError as ex:
            self.broken = True
            raise FerryError("truncated_frame", "The connection broke: %s." % ex, fatal=True) from None
        if n == 0:
            self.broken = True
            raise FerryError("truncated_frame", "The server closed the connection instead of replying.", fatal=True)
        if n < 4:
            self.recv_into_exact(view[n:])
        (length,) = _LENGTH.unpack(prefix)
        if length == 0 or length > MAX_HEADER_BYTES:
            self.broken = True
            raise FerryError("header_too_large" if length else "header_length_invalid",
                             "The server sent a frame header of %d bytes." % length, fatal=True)
        raw = self.recv_exact(length)
        try:
            header = json.loads(raw.decode("utf-8"))
        except ValueError:  # UnicodeDecodeError and JSONDecodeError are both ValueErrors
            self.broken = True
            raise FerryError("header_not_json", "The server sent a header that is not UTF-8 JSON.", fatal=True) from None
        if not isinstance(header, dict) or not isinstance(header.get("cmd"), str):
            self.broken = True
            raise FerryError("command_missing", "The server sent a header without a string 'cmd'.", fatal=True)
        try:
            body_length(header)
        except FerryError:
            self.broken = True
            raise
        return header

    def read_frame(self, max_body=MAX_SMALL_BODY):
        """A whole frame with its body in memory, for small bodies only."""
        header = self.read_header()
        n = body_length(header)
        if n > max_body:
            self.broken = True
            raise FerryError("body_too_large", "The server's '%s' frame has a %d-byte body, more than this client accepts."
                             % (header["cmd"], n), fatal=True)
        return header, self.recv_exact(n)

    def skip_body(self, n):
        buf = bytearray(min(n, PIECE))
        view = memoryview(buf)
        while n > 0:
            piece = min(n, len(buf))
            self.recv_into_exact(view[:piece])
            n -= piece

    def send(self, data):
        try:
            self.sock.sendall(data)
        except OSError as ex:
            self.broken = True
            # The server may have said why before it closed (a fatal error frame): report that if it is there.
            raise self._error_after_send_failure(ex) from None

    def _error_after_send_failure(self, ex):
        try:
            self.sock.settimeout(1.0)
            header, _ = self.read_frame(max_body=0)
            if header["cmd"] == "error":
                return _error_from(header)
        except (FerryError, OSError):
            pass
        return FerryError("truncated_frame", "The connection broke while sending: %s." % ex, fatal=True)


def _error_from(header):
    code = header.get("code")
    message = header.get("message")
    return FerryError(code if isinstance(code, str) else "internal_error",
                      message if isinstance(message, str) else "The server reported an error.",
                      fatal=header.get("fatal") is True)


def parse_server(text, default_port=DEFAULT_PORT):
    """``HOST:PORT``, ``HOST``, ``[IPv6]:PORT`` or ``[IPv6]`` -> (host, port)."""
    text = text.strip()
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            raise ValueError("'%s': missing ']'" % text)
        host, rest = text[1:end], text[end + 1:]
        if rest and not rest.startswith(":"):
            raise ValueError("'%s': expected ':PORT' after ']'" % text)
        port = rest[1:] if rest else str(default_port)
    elif text.count(":") == 1:
        host, port = text.split(":")
    elif ":" in text:
        raise ValueError("'%s': write an IPv6 address as [ADDRESS]:PORT" % text)
    else:
        host, port = text, str(default_port)
    if not host:
        raise ValueError("'%s': the host is missing" % text)
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError("'%s': the port must be a number from 1 to 65535" % text)
    return host, int(port)


# -- client -----------------------------------------------------------------------------------------------------------


class FerryClient:
    """One connection to a Ferry server. Requests are sent one at a time; each method reads its whole reply."""

    def __init__(self, sock, credentials=None):
        """Wraps a connected socket; use :meth:`connect` to connect and say hello.

        ``credentials``, a ``(user, key)`` pair, says that a login is expected: :meth:`hello` then refuses a server
        that does not ask for one (``server_not_authenticated``).
        """
        self._conn = _Connection(sock)
        self._next_id = 1
        self._credentials = credentials
        self.server_hello = None

    @classmethod
    def connect(cls, host, port, timeout=None, connect_timeout=CONNECT_TIMEOUT, hello=True, credentials=None):
        """Connects and says hello. ``timeout`` bounds each later wait for the server (None: wait indefinitely).

        With ``credentials`` (a ``(user, key)`` pair) a server that asks for no login is refused before anything but
        the hello is sent.
        """
        try:
            sock = socket.create_connection((host, port), timeout=connect_timeout)
        except ConnectionRefusedError:
            raise FerryUnreachable("connection_refused", "Nothing is listening at %s:%d; start the server with "
                                   "'ferry serve' or check --server." % (host, port)) from None
        except socket.gaierror as ex:
            raise FerryUnreachable("unreachable", "The host '%s' could not be resolved: %s." % (host, ex)) from None
        except socket.timeout:
            raise FerryUnreachable("unreachable", "Connecting to %s:%d took longer than %g s." % (host, port, connect_timeout)) from None
        except OSError as ex:
            raise FerryUnreachable("unreachable", "The connection to %s:%d failed: %s." % (host, port, ex)) from None
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        client = cls(sock, credentials)
        try:
            if hello:
                try:
                    client.hello()
                except FerryError as ex:
                    if ex.code == "idle_timeout":
                        raise FerryUnreachable("unreachable", "The server at %s:%d did not answer hello within %g s."
                                               % (host, port, connect_timeout)) from None
                    raise
            sock.settimeout(timeout)
        except BaseException:
            sock.close()
            raise
        return client

    # -- session --

    def hello(self):
        """The hello exchange (§3.1). Returns the server's hello header."""
        self._send(frame_prefix({"cmd": "hello", "version": PROTOCOL_VERSION, "features": FEATURES, "agent": AGENT}))
        header, _ = self._expect("hello")
        if header.get("version") != PROTOCOL_VERSION:
            self._conn.broken = True
            raise FerryError("version_unsupported", "The server speaks protocol version %r, not %d."
                             % (header.get("version"), PROTOCOL_VERSION), fatal=True)
        auth = header.get("auth")
        if auth is None or auth == "none":
            if self._credentials is not None:
                # A client that holds credentials expects a server that can prove it knows them. One that skips the
                # login may be an impostor collecting uploads: nothing more is sent to it, not even bye.
                self._conn.broken = True
                raise FerryError("server_not_authenticated", "The server did not ask for a login, so it cannot prove "
                                 "that it knows your key: it may be an impostor. Nothing was sent. If this server "
                                 "really runs without authentication (--insecure-no-auth), connect without "
                                 "credentials.", fatal=True)
        else:
            # Servers with authentication announce it in their hello; this client does not implement it yet.
            self._conn.broken = True
            raise FerryError("authentication_required", "The server requires authentication (%s), which this client "
                             "does not support; use a server started with --insecure-no-auth." % auth, fatal=True)
        self.server_hello = header
        return header

    def close(self):
        """Says bye when the connection is still in step, then closes it."""
        sock = self._conn.sock
        if sock is None:
            return
        try:
            if not self._conn.broken:
                sock.settimeout(2.0)
                self._send(frame_prefix({"cmd": "bye"}))
                self._expect("ok")
        except (FerryError, OSError):
            pass
        finally:
            self._conn.sock = None
            sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    @property
    def socket(self):
        return self._conn.sock

    # -- commands --

    def echo(self, data):
        """Sends ``data`` (bytes or str) and returns the server's upper-cased copy as bytes (§4.2)."""
        if isinstance(data, str):
            data = data.encode("utf-8")
        prefix = frame_prefix({"cmd": "echo", "bodysize": len(data)})
        if len(data) <= 64 * 1024:
            self._send(prefix + data)
            header, body = self._expect("echo")
        else:
            # The server streams the reply while the request arrives: read it while sending, or both sides stall.
            failure = []

            def sender():
                try:
                    self._conn.sock.sendall(prefix)
                    view = memoryview(data)
                    for start in range(0, len(view), PIECE):
                        self._conn.sock.sendall(view[start:start + PIECE])
                except OSError as ex:
                    failure.append(ex)

            thread = threading.Thread(target=sender, daemon=True)
            thread.start()
            try:
                header, body = self._expect("echo")
            finally:
                thread.join()
            if failure:
                self._conn.broken = True
                raise FerryError("truncated_frame", "The connection broke while sending: %s." % failure[0], fatal=True)
        if len(body) != len(data):
            self._conn.broken = True
            raise FerryError("unexpected_frame", "The echo reply has %d bytes, not %d." % (len(body), len(data)), fatal=True)
        return body

    def ls(self, path="", recursive=False):
        """Entries of a directory (or the one entry of a file): dicts with name, type, size, mtime (§5.5)."""
        self._send(frame_prefix({"cmd": "ls", "path": path, "recursive": bool(recursive)}))
        header, body = self._expect("listing")
        if not body:
            return []
        try:
            entries = json.loads(body.decode("utf-8"))
        except ValueError:
            raise FerryError("field_invalid", "The server sent a listing that is not UTF-8 JSON.") from None
        if not isinstance(entries, list):
            raise FerryError("field_invalid", "The server sent a listing that is not a JSON array.")
        return entries

    def put(self, local, remote=None, force=False, mtime=None):
        """Uploads a local file (§5.2) and returns the server's ``done`` header.

        The sha256 of the file is computed while its bytes are sent (1 MiB ``put_data`` frames) and sent in
        ``put_end``; the server commits the file only if its own hash of what arrived matches.

        ``mtime`` (Unix seconds) is sent only when given. The server as of commit 49d5fd3 closes the connection
        without an error frame at ``put_end`` of any put that has ``mtime`` (LocalUpload.CommitAsync sets the time
        through a file handle it has already closed) and commits nothing, so it is not sent by default.
        """
        if remote is None or remote == "" or remote.endswith("/"):
            remote = (remote or "") + os.path.basename(os.path.abspath(local))
        with open(local, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            tid = self._take_id()
            request = {"cmd": "put", "id": tid, "path": remote, "size": size, "checksum": CHECKSUM,
                       "force": bool(force), "resume": False}
            if mtime is not None:
                request["mtime"] = int(mtime)
            self._send(frame_prefix(request))
            ready, hashes = self._expect("put_ready")
            if ready.get("id") != tid or ready.get("offset") != 0:
                self._conn.broken = True
                raise FerryError("unexpected_frame", "put_ready for id %r at offset %r; expected id %d at offset 0."
                                 % (ready.get("id"), ready.get("offset"), tid), fatal=True)
            hasher = hashlib.sha256()
            buf = bytearray(PIECE)
            view = memoryview(buf)
            offset = 0
            while offset < size:
                want = min(PIECE, size - offset)
                n = f.readinto(view[:want])
                if not n:
                    # The file shrank after it was measured. Every frame sent so far is complete, so the connection
                    # is still in step: end the upload (the server refuses it, commits nothing) and report it.
                    self._abandon_put(tid, hasher.hexdigest())
                    raise OSError("'%s' shrank to %d bytes while it was being sent (it had %d)." % (local, offset, size))
                piece = view[:n]
                hasher.update(piece)
                self._send(frame_prefix({"cmd": "put_data", "id": tid, "offset": offset, "bodysize": n}))
                self._send(piece)
                offset += n
        digest = hasher.hexdigest()
        self._send(frame_prefix({"cmd": "put_end", "id": tid, "hash": digest}))
        done, _ = self._expect("done")
        if done.get("id") != tid or done.get("size") != size or str(done.get("hash", "")).lower() != digest:
            self._conn.broken = True
            raise FerryError("unexpected_frame", "The server's done does not describe the upload: %r (sent %d bytes, "
                             "sha256 %s)." % (done, size, digest), fatal=True)
        return done

    def get(self, remote, local=None, force=False):
        """Downloads a remote file (§5.3) and returns the server's ``done`` header.

        The body goes to a temporary file beside ``local``, hashed as it arrives; only when the server's sha256 of
        the whole file matches is it renamed to ``local``. Without ``force`` an existing ``local`` is an
        ``already_exists`` error and is never replaced.
        """
        if local is None:
            local = remote.rstrip("/").rsplit("/", 1)[-1] or "download"
        elif os.path.isdir(local):
            local = os.path.join(local, remote.rstrip("/").rsplit("/", 1)[-1])
        if not force and os.path.lexists(local):
            raise FerryError("already_exists", "'%s' already exists locally; use --force to replace it." % local)
        directory = os.path.dirname(os.path.abspath(local))
        tid = self._take_id()
        self._send(frame_prefix({"cmd": "get", "id": tid, "path": remote, "offset": 0, "checksum": CHECKSUM}))
        header = self._expect_header("file")
        count = body_length(header)
        size = header.get("size")
        if header.get("id") != tid or header.get("offset") != 0 or size != count:
            self._conn.broken = True
            raise FerryError("unexpected_frame", "The server's file frame does not answer the request: %r." % header, fatal=True)

        fd, tmp = _create_temporary(directory, os.path.basename(local))
        try:
            hasher = hashlib.sha256()
            with os.fdopen(fd, "wb") as out:
                buf = bytearray(PIECE)
                view = memoryview(buf)
                remaining = count
                while remaining > 0:
                    piece = view[:min(PIECE, remaining)]
                    self._conn.recv_into_exact(piece)
                    hasher.update(piece)
                    out.write(piece)
                    remaining -= len(piece)
                out.flush()
                os.fsync(out.fileno())
            done, _ = self._expect("done")
            digest = hasher.hexdigest()
            if done.get("checksum") != CHECKSUM or done.get("size") != count:
                self._conn.broken = True
                raise FerryError("unexpected_frame", "The server's done does not describe the download: %r." % done, fatal=True)
            if str(done.get("hash", "")).lower() != digest:
                raise FerryError("checksum_mismatch", "The data received for '%s' does not match the server's sha256 "
                                 "(%s, received %s); nothing was written." % (remote, done.get("hash"), digest))
            mtime = header.get("mtime")
            if type(mtime) is int:
                try:
                    os.utime(tmp, (mtime, mtime))
                except (OSError, OverflowError, ValueError):
                    pass
            _commit(tmp, local, force)
            tmp = None
            done = dict(done)
            done["local"] = local
            return done
        finally:
            if tmp is not None:
                try:
                    os.unlink(tmp)
                except OSError:
                    pass

    # -- plumbing --

    def _take_id(self):
        tid = self._next_id
        self._next_id += 1
        return tid

    def _send(self, data):
        if self._conn.sock is None:
            raise FerryError("truncated_frame", "The connection is closed.", fatal=True)
        if self._conn.broken:
            raise FerryError("truncated_frame", "The connection can no longer be used after an earlier failure.", fatal=True)
        self._conn.send(data)

    def _expect_header(self, cmd):
        """The next frame's header, which must be ``cmd`` (its body is left to the caller) or an error."""
        header = self._conn.read_header()
        got = header["cmd"]
        if got == cmd:
            return header
        n = body_length(header)
        if got == "error":
            error = _error_from(header)
            if error.fatal:
                self._conn.broken = True
            if n:
                self._conn.skip_body(n)
            raise error
        self._conn.broken = True
        raise FerryError("unexpected_frame", "Expected '%s' from the server but got '%s'." % (cmd, got), fatal=True)

    def _expect(self, cmd):
        header = self._expect_header(cmd)
        n = body_length(header)
        if n > MAX_SMALL_BODY:
            self._conn.broken = True
            raise FerryError("body_too_large", "The server's '%s' reply has a %d-byte body, more than this client "
                             "accepts." % (cmd, n), fatal=True)
        return header, self._conn.recv_exact(n)

    def _abandon_put(self, tid, wrong_hash):
        """Ends an upload that cannot be completed; the server answers with an error and keeps nothing of it."""
        try:
            self._send(frame_prefix({"cmd": "put_end", "id": tid, "hash": wrong_hash}))
            self._expect("done")
        except FerryError:
            pass


def _create_temporary(directory, name):
    """A new file beside the download target, with the permissions a normal new file gets (umask applies)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    for _ in range(100):
        path = os.path.join(directory, ".ferry-get.%s.%s.part" % (name[:100], secrets.token_hex(6)))
        try:
            return os.open(path, flags, 0o666), path
        except FileExistsError:
            continue
    raise FileExistsError("Could not create a temporary file in '%s'." % directory)


def _commit(tmp, local, force):
    """Renames the verified temporary file into place; without force never replaces an existing file."""
    if force:
        os.replace(tmp, local)
        return
    try:
        os.link(tmp, local)  # atomic "create only if absent"
    except FileExistsError:
        raise FerryError("already_exists", "'%s' appeared while it was being downloaded; it was not replaced." % local) from None
    except OSError:
        # No hard links here (some file systems, some platforms): check, then rename.
        if os.path.lexists(local):
            raise FerryError("already_exists", "'%s' already exists locally; use --force to replace it." % local) from None
        os.replace(tmp, local)
        return
    os.unlink(tmp)


# -- the classic tutorial upload --------------------------------------------------------------------------------------


def classic_upload(sock, path):
    """Exactly the classic socket-tutorial upload (§5.7): no hello, no checksum, and nothing is read.

    Sends ``struct.pack('i', len(head)) + head`` with head ``{"cmd":"put","filename":NAME,"filesize":SIZE}``, then the
    file's raw bytes (streamed in 1 MiB pieces). ``'i'`` is native-order signed; on little-endian machines it is the
    same 4 bytes as ``'<I'`` (§2.1). A server started with ``--insecure-no-auth`` stores the file as NAME, replacing an
    existing file, and answers nothing on success.
    """
    name = os.path.basename(path)
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        head = json.dumps({"cmd": "put", "filename": name, "filesize": size}).encode("utf-8")
        sock.sendall(struct.pack("i", len(head)) + head)
        remaining = size
        while remaining > 0:
            chunk = f.read(min(PIECE, remaining))
            if not chunk:
                raise OSError("'%s' shrank while it was being sent." % path)
            sock.sendall(chunk)
            remaining -= len(chunk)


# -- command line -----------------------------------------------------------------------------------------------------

_EXIT_FOR_CODE = {
    "authentication_required": 5,
    "server_not_authenticated": 5,
    "not_found": 6,
    "already_exists": 7,
    "path_invalid": 10,
    "path_escapes_root": 10,
}


def exit_code_for(error):
    """The process exit code for a FerryError (see the module docstring)."""
    if isinstance(error, FerryUnreachable):
        return 3
    return _EXIT_FOR_CODE.get(error.code, 1)


def _format_entry(entry):
    kind = entry.get("type", "?")
    name = entry.get("name", "?") + ("/" if kind == "dir" else "")
    return "%-4s %14s  %s" % (kind, entry.get("size", 0) if kind != "dir" else "-", name)


def _parser():
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--server", "-s", default=argparse.SUPPRESS, metavar="HOST:PORT",
                        help="server address (default 127.0.0.1:%d)" % DEFAULT_PORT)
    parser = argparse.ArgumentParser(prog="ferry_client.py", description="Ferry client (protocol version 1).",
                                     parents=[common])
    parser.add_argument("--timeout", type=float, default=None, metavar="SECONDS",
                        help="give up when the server sends nothing for this long (default: wait)")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True
    put = commands.add_parser("put", parents=[common], help="upload a file")
    put.add_argument("local")
    put.add_argument("remote", nargs="?")
    put.add_argument("--force", "-f", action="store_true", help="replace an existing remote file")
    get = commands.add_parser("get", parents=[common], help="download a file")
    get.add_argument("remote")
    get.add_argument("local", nargs="?")
    get.add_argument("--force", "-f", action="store_true", help="replace an existing local file")
    ls = commands.add_parser("ls", parents=[common], help="list a directory")
    ls.add_argument("path", nargs="?", default="")
    ls.add_argument("--recursive", "-r", action="store_true")
    echo = commands.add_parser("echo", parents=[common], help="send text; the server answers it upper-cased")
    echo.add_argument("text", nargs="+")
    return parser


def _credentials_from_environment(environ):
    """FERRY_USER and FERRY_KEY, the ``ferry`` command's login, as credentials; None when neither is set."""
    user, key = environ.get("FERRY_USER") or None, environ.get("FERRY_KEY") or None
    return (user, key) if user or key else None


def main(argv=None):
    parser = _parser()
    args = parser.parse_args(argv)
    server = getattr(args, "server", "127.0.0.1:%d" % DEFAULT_PORT)
    try:
        host, port = parse_server(server)
    except ValueError as ex:
        parser.error("--server: %s" % ex)
    try:
        credentials = _credentials_from_environment(os.environ)
        with FerryClient.connect(host, port, timeout=args.timeout, credentials=credentials) as client:
            if args.command == "put":
                done = client.put(args.local, args.remote, force=args.force)
                print("%s -> %s (%d bytes, sha256 %s)" % (args.local, done.get("path"), done.get("size"), done.get("hash")))
            elif args.command == "get":
                done = client.get(args.remote, args.local, force=args.force)
                print("%s -> %s (%d bytes, sha256 %s)" % (done.get("path"), done["local"], done.get("size"), done.get("hash")))
            elif args.command == "ls":
                for entry in client.ls(args.path, recursive=args.recursive):
                    print(_format_entry(entry))
            elif args.command == "echo":
                reply = client.echo(" ".join(args.text))
                print(reply.decode("utf-8", errors="replace"))
        return 0
    except FerryError as ex:
        print("ferry: %s" % ex, file=sys.stderr)
        return exit_code_for(ex)
    except OSError as ex:
        # Local files (put's source, get's target). Socket failures are FerryErrors by now.
        detail = "%s: %s" % (ex.filename, ex.strerror) if ex.filename and ex.strerror else str(ex)
        print("ferry: %s (local_io)" % detail, file=sys.stderr)
        return 12
    except KeyboardInterrupt:
        print("ferry: Interrupted.", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
