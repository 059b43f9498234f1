"""Tests of ferry_client.py against the real Ferry server.

Run from this folder: ``python3 -m unittest -v test_ferry_client``. The server is the ``ferry`` executable named by
the environment variable FERRY_BIN (an apphost, or ``ferry.dll``, which is run with ``dotnet``); without it, the Debug
build ``src/Ferry.Cli/bin/Debug/net10.0/ferry`` (build it with ``dotnet build src/Ferry.Cli``). Each test class starts
its own server on 127.0.0.1 port 0 with a fresh root folder and reads the port from its "Listening on" log line.
"""

import hashlib
import json
import os
import re
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import unittest

import ferry_client
from ferry_client import FerryClient, FerryError, classic_upload

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
DEFAULT_BIN = os.path.join(REPO, "src", "Ferry.Cli", "bin", "Debug", "net10.0", "ferry")
TIMEOUT = 30.0  # any single wait; a hung server fails the test instead of hanging it
MIB = 1024 * 1024
LISTENING = re.compile(r"Listening on (\S+):(\d+)")
CREDENTIALS = ("alice", "c2VjcmV0LWtleS1vZi1hbGljZS0zMi1ieXRlcyE=")
# The command-line tool takes credentials from these; the tests set them only where they mean to.
NO_CREDENTIALS_ENV = {k: v for k, v in os.environ.items() if k not in ("FERRY_USER", "FERRY_KEY")}


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for piece in iter(lambda: f.read(MIB), b""):
            h.update(piece)
    return h.hexdigest()


def write_random(path, size):
    with open(path, "wb") as f:
        remaining = size
        while remaining:
            n = min(MIB, remaining)
            f.write(os.urandom(n))
            remaining -= n


def read(path):
    with open(path, "rb") as f:
        return f.read()


class FerryServer:
    """``ferry serve`` as a child process on 127.0.0.1, port 0."""

    def __init__(self, root, insecure_no_auth=False):
        binary = os.environ.get("FERRY_BIN") or DEFAULT_BIN
        if not os.path.isfile(binary):
            raise RuntimeError("The ferry server was not found at %s. Build it with 'dotnet build src/Ferry.Cli' or set "
                               "FERRY_BIN to the ferry executable or ferry.dll." % binary)
        command = (["dotnet", binary] if binary.endswith(".dll") else [binary])
        # The state folder (TLS key and certificate, users file) goes beside the root in the test's temporary folder,
        # and the server runs there too: a test never writes a key into the source tree.
        work = os.path.dirname(os.path.abspath(root))
        command += ["serve", "--listen", "127.0.0.1:0", "--root", root, "--state-dir", os.path.join(work, "state")]
        if insecure_no_auth:
            command.append("--insecure-no-auth")
        env = dict(os.environ, DOTNET_NOLOGO="1", DOTNET_CLI_TELEMETRY_OPTOUT="1", NO_COLOR="1")
        self.root = root
        self.lines = []
        self.port = None
        self._listening = threading.Event()
        self.process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                        stderr=subprocess.STDOUT, env=env, cwd=work)
        # Keep draining the log so the server never blocks on a full pipe.
        self._reader = threading.Thread(target=self._read_log, daemon=True)
        self._reader.start()
        if not self._listening.wait(TIMEOUT) or self.port is None:
            self.stop()
            raise RuntimeError("ferry serve did not report 'Listening on' within %g s:\n%s" % (TIMEOUT, self.log))

    def _read_log(self):
        for raw in iter(self.process.stdout.readline, b""):
            line = raw.decode("utf-8", errors="replace").rstrip()
            self.lines.append(line)
            m = LISTENING.search(line)
            if m and self.port is None:
                self.port = int(m.group(2))
                self._listening.set()
        self._listening.set()  # the process ended: stop waiting

    @property
    def log(self):
        return "\n".join(self.lines)

    @property
    def address(self):
        return "127.0.0.1:%d" % self.port

    def client(self):
        return FerryClient.connect("127.0.0.1", self.port, timeout=TIMEOUT)

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(TIMEOUT)
        self._reader.join(TIMEOUT)
        self.process.stdout.close()


class ServerTestCase(unittest.TestCase):
    # This client speaks the protocol without the login handshake, so it talks to a server started with
    # --insecure-no-auth (no login, plain TCP), as the tutorial clients do.
    insecure_no_auth = True

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="ferry-python-tests-")
        cls.root = os.path.join(cls.tmp, "root")
        os.mkdir(cls.root)
        cls.server = FerryServer(cls.root, cls.insecure_no_auth)

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def setUp(self):
        self.local = tempfile.mkdtemp(prefix="local-", dir=self.tmp)

    def local_path(self, name):
        return os.path.join(self.local, name)

    def server_file(self, remote):
        return os.path.join(self.root, *remote.split("/"))

    def assertFerryError(self, code, function, *args, **kwargs):
        with self.assertRaises(FerryError) as caught:
            function(*args, **kwargs)
        self.assertEqual(code, caught.exception.code, "%s: %s" % (caught.exception, self.server.log[-2000:]))
        return caught.exception


class FerryClientTests(ServerTestCase):
    def test_hello_names_the_file_commands(self):
        with self.server.client() as client:
            hello = client.server_hello
        self.assertEqual(1, hello["version"])
        for command in ("echo", "get", "ls", "put", "put_data", "put_end"):
            self.assertIn(command, hello["features"])

    def test_put_then_get_of_5_mib_random_file_is_byte_identical_and_sha256_verified(self):
        source = self.local_path("random.bin")
        write_random(source, 5 * MIB)
        expected = sha256_file(source)
        copy = self.local_path("copy.bin")
        with self.server.client() as client:
            done = client.put(source, "random.bin")
            self.assertEqual("done", done["cmd"])
            self.assertEqual("random.bin", done["path"])
            self.assertEqual(5 * MIB, done["size"])
            self.assertEqual("sha256", done["checksum"])
            self.assertEqual(expected, done["hash"])
            self.assertEqual(expected, sha256_file(self.server_file("random.bin")))

            done = client.get("random.bin", copy)
            self.assertEqual("sha256", done["checksum"])
            self.assertEqual(expected, done["hash"])
            self.assertEqual(5 * MIB, done["size"])
        self.assertEqual(read(source), read(copy))
        self.assertEqual(["copy.bin", "random.bin"], sorted(os.listdir(self.local)), "no temporary file is left")

    def test_put_into_a_directory_then_ls_shows_the_file_with_its_size(self):
        os.mkdir(self.server_file("lsdir"))
        source = self.local_path("listed.txt")
        with open(source, "wb") as f:
            f.write(b"x" * 12345)
        with self.server.client() as client:
            client.put(source, "lsdir/")
            client.put(source, "lsdir/second.txt")
            entries = client.ls("lsdir")
            self.assertEqual(["listed.txt", "second.txt"], [e["name"] for e in entries])
            for entry in entries:
                self.assertEqual("file", entry["type"])
                self.assertEqual(12345, entry["size"])
            root = {e["name"]: e for e in client.ls("")}
            self.assertEqual("dir", root["lsdir"]["type"])
            self.assertEqual([("listed.txt", 12345)], [(e["name"], e["size"]) for e in client.ls("lsdir/listed.txt")])

    def test_get_of_a_missing_file_raises_not_found_and_writes_nothing(self):
        target = self.local_path("never.bin")
        with self.server.client() as client:
            self.assertFerryError("not_found", client.get, "no/such/file.bin", target)
            self.assertFerryError("not_found", client.get, "missing.bin", target)
            self.assertEqual("PING", client.echo("ping").decode(), "a non-fatal error leaves the connection usable")
        self.assertEqual([], os.listdir(self.local))

    def test_put_of_an_existing_file_without_force_raises_already_exists_and_force_replaces(self):
        first = self.local_path("first.txt")
        second = self.local_path("second.txt")
        with open(first, "wb") as f:
            f.write(b"first version")
        with open(second, "wb") as f:
            f.write(b"second, longer version")
        with self.server.client() as client:
            client.put(first, "exists.txt")
            self.assertFerryError("already_exists", client.put, second, "exists.txt")
            self.assertEqual(b"first version", read(self.server_file("exists.txt")))
            done = client.put(second, "exists.txt", force=True)
            self.assertEqual(hashlib.sha256(b"second, longer version").hexdigest(), done["hash"])
        self.assertEqual(b"second, longer version", read(self.server_file("exists.txt")))

    def test_get_never_replaces_a_local_file_without_force(self):
        source = self.local_path("src.txt")
        with open(source, "wb") as f:
            f.write(b"remote content")
        target = self.local_path("target.txt")
        with open(target, "wb") as f:
            f.write(b"local content")
        with self.server.client() as client:
            client.put(source, "getforce.txt")
            self.assertFerryError("already_exists", client.get, "getforce.txt", target)
            self.assertEqual(b"local content", read(target))
            client.get("getforce.txt", target, force=True)
        self.assertEqual(b"remote content", read(target))

    def test_paths_that_escape_the_root_raise_path_escapes_root(self):
        source = self.local_path("escape.txt")
        with open(source, "wb") as f:
            f.write(b"must not leave the root")
        with self.server.client() as client:
            self.assertFerryError("path_escapes_root", client.put, source, "../x")
            self.assertFerryError("path_escapes_root", client.put, source, "a/../../x")
            self.assertFerryError("path_escapes_root", client.get, "../x", self.local_path("x"))
            self.assertFerryError("path_escapes_root", client.ls, "..")
            self.assertFerryError("path_invalid", client.ls, "/etc")
        self.assertFalse(os.path.exists(os.path.join(self.tmp, "x")))

    def test_echo_returns_the_text_upper_cased(self):
        with self.server.client() as client:
            self.assertEqual(b"HELLO, FERRY! 123", client.echo("hello, ferry! 123"))
            self.assertEqual(b"", client.echo(b""))
            big = bytes(range(256)) * (3 * MIB // 256)  # streamed both ways at once
            self.assertEqual(big.upper(), client.echo(big))

    def test_a_client_with_credentials_refuses_a_real_server_without_authentication(self):
        with open(self.local_path("kept-home.bin"), "wb") as f:
            f.write(b"private")
        error = self.assertFerryError("server_not_authenticated", FerryClient.connect, "127.0.0.1", self.server.port,
                                      timeout=TIMEOUT, credentials=CREDENTIALS)
        self.assertTrue(error.fatal)
        self.assertFalse(os.path.exists(self.server_file("kept-home.bin")))

    def test_empty_file_round_trip(self):
        source = self.local_path("empty")
        open(source, "wb").close()
        target = self.local_path("empty.copy")
        with self.server.client() as client:
            done = client.put(source, "empty")
            self.assertEqual(hashlib.sha256(b"").hexdigest(), done["hash"])
            client.get("empty", target)
        self.assertEqual(b"", read(target))


class CommandLineTests(ServerTestCase):
    def run_cli(self, *args):
        result = subprocess.run([sys.executable, os.path.join(HERE, "ferry_client.py"), "--server", self.server.address]
                                + list(args), cwd=self.local, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                timeout=TIMEOUT, env=NO_CREDENTIALS_ENV)
        return result.returncode, result.stdout.decode(), result.stderr.decode()

    def test_put_ls_get_and_error_exit_codes(self):
        with open(self.local_path("cli.bin"), "wb") as f:
            f.write(os.urandom(70000))
        code, out, err = self.run_cli("put", "cli.bin")
        self.assertEqual(0, code, err)
        code, out, err = self.run_cli("ls")
        self.assertEqual(0, code, err)
        self.assertRegex(out, r"file\s+70000\s+cli\.bin")
        code, out, err = self.run_cli("get", "cli.bin", "back.bin")
        self.assertEqual(0, code, err)
        self.assertEqual(read(self.local_path("cli.bin")), read(self.local_path("back.bin")))
        code, out, err = self.run_cli("echo", "quiet", "please")
        self.assertEqual((0, "QUIET PLEASE\n"), (code, out))

        code, out, err = self.run_cli("get", "nothing-here")
        self.assertEqual(6, code)
        self.assertRegex(err, r"^ferry: .+ \(not_found\)\n$")
        code, out, err = self.run_cli("put", "cli.bin")
        self.assertEqual(7, code)
        self.assertRegex(err, r"^ferry: .+ \(already_exists\)\n$")
        code, out, err = self.run_cli("put", "--force", "cli.bin")
        self.assertEqual(0, code, err)
        code, out, err = self.run_cli("get", "../x")
        self.assertEqual(10, code)
        self.assertRegex(err, r"^ferry: .+ \(path_escapes_root\)\n$")

    def test_connection_refused_is_exit_code_3(self):
        with socket.socket() as s:  # a port nothing listens on
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        result = subprocess.run([sys.executable, os.path.join(HERE, "ferry_client.py"), "--server", "127.0.0.1:%d" % port,
                                 "ls"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=TIMEOUT)
        self.assertEqual(3, result.returncode, result.stderr)
        self.assertTrue(result.stderr.decode().startswith("ferry: "))


class ClassicUploadTests(ServerTestCase):
    """The tutorial client: no hello, several uploads on one connection, nothing read (protocol.md §5.7)."""

    insecure_no_auth = True

    def test_three_classic_uploads_on_one_connection_are_stored_byte_identically(self):
        sizes = {"classic-1.bin": 2 * MIB + 17, "classic-2.txt": 1000, "classic-3.bin": 3}
        for name, size in sizes.items():
            write_random(self.local_path(name), size)

        with socket.create_connection(("127.0.0.1", self.server.port), timeout=TIMEOUT) as sock:
            for name in sizes:
                classic_upload(sock, self.local_path(name))

            deadline = time.monotonic() + 10
            while True:
                stored = {n: read(self.server_file(n)) if os.path.exists(self.server_file(n)) else None for n in sizes}
                parts = [n for n in os.listdir(self.root) if n.startswith(".ferry-part.")]
                done = all(stored[n] == read(self.local_path(n)) for n in sizes) and not parts
                if done or time.monotonic() > deadline:
                    break
                time.sleep(0.05)
            for name in sizes:
                self.assertTrue(stored[name] is not None, "%s was not stored.\n%s" % (name, self.server.log))
                self.assertEqual(read(self.local_path(name)), stored[name], "%s differs" % name)
            self.assertEqual([], parts, "temporary files left in the root")

            # A classic session gets no reply on success.
            sock.settimeout(0.3)
            try:
                unexpected = sock.recv(65536)
            except socket.timeout:
                unexpected = None
            self.assertIsNone(unexpected, "the server sent %r to a classic client" % (unexpected,))

    def test_classic_upload_sends_exactly_the_tutorial_bytes(self):
        path = self.local_path("exact.txt")
        with open(path, "wb") as f:
            f.write(b"12345")
        a, b = socket.socketpair()
        with a, b:
            classic_upload(a, path)
            a.shutdown(socket.SHUT_WR)
            received = b""
            while True:
                chunk = b.recv(65536)
                if not chunk:
                    break
                received += chunk
        head = json.dumps({"cmd": "put", "filename": "exact.txt", "filesize": 5}).encode("utf-8")
        self.assertEqual(struct.pack("i", len(head)) + head + b"12345", received)


class FakeServer:
    """A listener on 127.0.0.1 that answers one client's hello with ``hello`` (by default a server without
    authentication: no ``auth``), answers ``bye`` with ``ok``, and records every byte the client sends after its hello
    until it closes the connection."""

    def __init__(self, hello=None):
        self.hello = hello or {"cmd": "hello", "version": 1, "features": ["echo", "get", "ls", "put"], "agent": "fake"}
        self.client_hello = None
        self.after_hello = b""
        self.error = None
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(1)
        self.listener.settimeout(TIMEOUT)
        self.port = self.listener.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    @staticmethod
    def _recv_exact(conn, n):
        data = b""
        while len(data) < n:
            chunk = conn.recv(n - len(data))
            if not chunk:
                raise EOFError("the client closed after %d of %d bytes" % (len(data), n))
            data += chunk
        return data

    def _serve(self):
        try:
            conn, _ = self.listener.accept()
            with conn:
                conn.settimeout(TIMEOUT)
                (length,) = struct.unpack("<I", self._recv_exact(conn, 4))
                self.client_hello = json.loads(self._recv_exact(conn, length).decode("utf-8"))
                conn.sendall(ferry_client.frame_prefix(self.hello))
                received = b""
                while True:
                    chunk = conn.recv(65536)
                    if not chunk:
                        break
                    received += chunk
                    if b'"cmd":"bye"' in received or b'"cmd": "bye"' in received:
                        conn.sendall(ferry_client.frame_prefix({"cmd": "ok"}))
                self.after_hello = received
        except Exception as ex:  # reported by join(), in the test's thread
            self.error = ex
        finally:
            self.listener.close()

    def join(self):
        self.thread.join(TIMEOUT)
        if self.thread.is_alive():
            raise AssertionError("the fake server still waits for the client after %g s" % TIMEOUT)
        if self.error is not None:
            raise AssertionError("the fake server failed: %r" % (self.error,))


class ServerAuthenticationTests(unittest.TestCase):
    """A client that holds credentials never sends files to a server that cannot prove it knows them (no server
    needed: a fake one that leaves ``auth`` out of its hello, as an impostor would)."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="ferry-python-fake-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.secret = os.path.join(self.tmp, "secret.bin")
        with open(self.secret, "wb") as f:
            f.write(b"SECRET-CONTENT-" + os.urandom(70000))

    def assertNothingSentAfterHello(self, fake):
        fake.join()
        self.assertEqual("hello", fake.client_hello["cmd"])
        self.assertEqual(b"", fake.after_hello, "the client sent more than its hello to a server that did not log in")

    def test_a_client_with_credentials_refuses_a_hello_without_auth_and_sends_no_file_bytes(self):
        fake = FakeServer()
        with self.assertRaises(FerryError) as caught:
            with FerryClient.connect("127.0.0.1", fake.port, timeout=TIMEOUT, credentials=CREDENTIALS) as client:
                client.put(self.secret, "secret.bin")
        self.assertEqual("server_not_authenticated", caught.exception.code)
        self.assertTrue(caught.exception.fatal)
        self.assertNothingSentAfterHello(fake)

    def test_auth_none_is_no_login_either(self):
        fake = FakeServer({"cmd": "hello", "version": 1, "features": ["put"], "auth": "none"})
        with self.assertRaises(FerryError) as caught:
            FerryClient.connect("127.0.0.1", fake.port, timeout=TIMEOUT, credentials=CREDENTIALS)
        self.assertEqual("server_not_authenticated", caught.exception.code)
        self.assertNothingSentAfterHello(fake)

    def test_the_command_line_with_ferry_user_and_key_refuses_with_exit_code_5_and_sends_no_file_bytes(self):
        fake = FakeServer()
        env = dict(NO_CREDENTIALS_ENV, FERRY_USER=CREDENTIALS[0], FERRY_KEY=CREDENTIALS[1])
        result = subprocess.run([sys.executable, os.path.join(HERE, "ferry_client.py"), "--server",
                                 "127.0.0.1:%d" % fake.port, "put", self.secret], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, timeout=TIMEOUT, env=env)
        self.assertEqual(5, result.returncode, result.stderr)
        self.assertRegex(result.stderr.decode(), r"^ferry: .+ \(server_not_authenticated\)\n$")
        self.assertNothingSentAfterHello(fake)

    def test_without_credentials_the_same_hello_is_accepted(self):
        # The control: the fake server is one a client without credentials talks to (then says bye).
        fake = FakeServer()
        with FerryClient.connect("127.0.0.1", fake.port, timeout=TIMEOUT) as client:
            self.assertEqual("fake", client.server_hello["agent"])
        fake.join()
        self.assertIn(b'"bye"', fake.after_hello)


class FramingTests(unittest.TestCase):
    """The frame reader against a peer that splits and glues frames arbitrarily (no server needed)."""

    @staticmethod
    def frame(header, body=b""):
        return ferry_client.frame_prefix(header) + body

    def test_frames_split_into_single_bytes_and_glued_together_are_read_exactly(self):
        frames = (self.frame({"cmd": "echo", "bodysize": 5}, b"HELLO")
                  + self.frame({"cmd": "ok"})
                  + self.frame({"cmd": "error", "code": "not_found", "message": "gone"})
                  + self.frame({"cmd": "listing", "path": "", "count": 0, "bodysize": 2}, b"[]"))
        a, b = socket.socketpair()
        with a, b:
            b.settimeout(TIMEOUT)

            def trickle():
                for i in range(len(frames)):
                    a.sendall(frames[i:i + 1])
                    if i % 7 == 0:
                        time.sleep(0.001)

            sender = threading.Thread(target=trickle)
            sender.start()
            client = FerryClient(b)
            self.assertEqual(b"HELLO", client._expect("echo")[1])
            self.assertEqual({"cmd": "ok"}, client._expect("ok")[0])
            with self.assertRaises(FerryError) as caught:
                client._expect("done")
            self.assertEqual(("not_found", "gone", False), (caught.exception.code, caught.exception.message,
                                                            caught.exception.fatal))
            self.assertEqual(b"[]", client._expect("listing")[1])
            sender.join(TIMEOUT)

    def test_connection_closed_inside_a_frame_is_truncated_frame(self):
        a, b = socket.socketpair()
        with a, b:
            a.sendall(self.frame({"cmd": "echo", "bodysize": 10}, b"ABC"))
            a.shutdown(socket.SHUT_WR)
            client = FerryClient(b)
            with self.assertRaises(FerryError) as caught:
                client._expect("echo")
            self.assertEqual("truncated_frame", caught.exception.code)

    def test_header_length_is_unsigned_little_endian(self):
        self.assertEqual(b"\x1b\x00\x00\x00", self.frame({"cmd": "echo", "bodysize": 5})[:4])
        self.assertEqual(b'{"cmd":"echo","bodysize":5}', self.frame({"cmd": "echo", "bodysize": 5})[4:])


if __name__ == "__main__":
    unittest.main()
