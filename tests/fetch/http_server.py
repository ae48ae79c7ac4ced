"""A local HTTP server for the fetch tests: serves files and misbehaves on request.

Used in-process (start() returns a running server on 127.0.0.1 with a free port) or from the command line
(python http_server.py DIR serves the files of DIR). Paths:

  /files/<name>              the bytes of <name>; honours Range: bytes=N- and bytes=N-M (206 + Content-Range)
  /status/<code>/<name>      always answers <code>
  /flaky/<k>/<name>          answers 500 to the first <k> requests for this path, then serves <name>
  /truncate/<name>           the first request announces the full length, sends half and closes; later ones
                             serve normally (Range honoured), so a client must resume
  /stall/<name>              the first request sends half of the body and then hangs (until server.release is
                             set, at most 60 s); later ones serve normally: for kill-and-rerun tests
  /norange/<name>            ignores Range (always 200 with the whole file)
  /wrong/<name>              the bytes of <name> with the last byte changed
  /redirect/<name>           302 to /files/<name> on the same origin
  /redirect-other/<name>     302 to /files/<name> on http://localhost:<port> (another origin)
  /gdc/data/<uuid>           the file registered under <uuid>; 403 unless X-Auth-Token matches `token` when set
  /ensembl/sequence/id/<ID>?type=<t>
                             a FASTA registered for (ID, t), only with the request header
                             Content-Type: text/x-fasta (else 415); ID EMPTY -> empty 200, ID HTML -> an HTML
                             page, unknown -> 400 {"error": "ID '<ID>' not found"} as the real API does

Every request is appended to server.log as a dict (path, range, token, content_type, host).
"""
import http.server
import os
import re
import sys
import threading
import urllib.parse


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"

    def log_message(self, fmt, *args):  # quiet
        pass

    def _send(self, code, body=b"", headers=None):
        self.send_response(code)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _serve_bytes(self, data, honour_range=True):
        rng = self.headers.get("Range")
        if honour_range and rng:
            m = re.fullmatch(r"bytes=(\d+)-(\d*)", rng.strip())
            if not m:
                return self._send(400, b"bad range")
            start = int(m.group(1))
            end = int(m.group(2)) if m.group(2) else len(data) - 1
            if start >= len(data):
                return self._send(416, b"", {"Content-Range": "bytes */%d" % len(data)})
            end = min(end, len(data) - 1)
            return self._send(206, data[start:end + 1],
                              {"Content-Range": "bytes %d-%d/%d" % (start, end, len(data))})
        return self._send(200, data)

    def do_GET(self):
        srv = self.server
        url = urllib.parse.urlsplit(self.path)
        parts = url.path.strip("/").split("/")
        with srv.lock:
            srv.log.append({"path": url.path, "query": url.query, "range": self.headers.get("Range"),
                            "token": self.headers.get("X-Auth-Token"),
                            "content_type": self.headers.get("Content-Type"),
                            "host": self.headers.get("Host")})
            count = srv.counts.get(url.path, 0)
            srv.counts[url.path] = count + 1
        kind = parts[0] if parts else ""
        try:
            if kind == "files":
                return self._serve_bytes(srv.files[parts[1]])
            if kind == "status":
                return self._send(int(parts[1]), b"status page %s" % parts[1].encode())
            if kind == "flaky":
                if count < int(parts[1]):
                    return self._send(500, b"internal error, try again")
                return self._serve_bytes(srv.files[parts[2]])
            if kind == "truncate":
                data = srv.files[parts[1]]
                if count == 0:
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data[:len(data) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                return self._serve_bytes(data)
            if kind == "stall":
                data = srv.files[parts[1]]
                if count == 0:
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data[:len(data) // 2])
                    self.wfile.flush()
                    srv.release.wait(60)
                    self.close_connection = True
                    return
                return self._serve_bytes(data)
            if kind == "norange":
                return self._serve_bytes(srv.files[parts[1]], honour_range=False)
            if kind == "wrong":
                data = bytearray(srv.files[parts[1]])
                data[-1] ^= 0xFF
                return self._serve_bytes(bytes(data))
            if kind == "redirect":
                return self._send(302, b"", {"Location": "/files/%s" % parts[1]})
            if kind == "redirect-other":
                return self._send(302, b"", {"Location": "http://localhost:%d/files/%s" % (srv.port, parts[1])})
            if kind == "gdc" and len(parts) == 3 and parts[1] == "data":
                if srv.token is not None and self.headers.get("X-Auth-Token") != srv.token:
                    return self._send(403, b'{"message": "Forbidden"}')
                uuid = parts[2]
                if uuid in srv.gdc_flaky and count < srv.gdc_flaky[uuid]:
                    return self._send(503, b"busy")
                if uuid not in srv.gdc:
                    return self._send(404, b'{"message": "not found"}')
                return self._serve_bytes(srv.gdc[uuid])
            if kind == "ensembl" and len(parts) == 4 and parts[1:3] == ["sequence", "id"]:
                ident = parts[3]
                typ = urllib.parse.parse_qs(url.query).get("type", ["genomic"])[0]
                if self.headers.get("Content-Type") != "text/x-fasta":
                    return self._send(415, b"unsupported media type")
                if ident == "EMPTY":
                    return self._send(200, b"")
                if ident == "HTML":
                    return self._send(200, b"<html><body>maintenance</body></html>")
                if (ident, typ) not in srv.ensembl:
                    return self._send(400, b'{"error":"ID \'%s\' not found"}' % ident.encode())
                return self._send(200, srv.ensembl[(ident, typ)])
            return self._send(404, b"no such path")
        except (KeyError, IndexError, ValueError):
            return self._send(404, b"no such file")


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), Handler)
        self.port = self.server_address[1]
        self.lock = threading.Lock()
        self.log = []
        self.counts = {}
        self.files = {}
        self.gdc = {}
        self.gdc_flaky = {}
        self.ensembl = {}
        self.token = None
        self.release = threading.Event()

    @property
    def base(self):
        return "http://127.0.0.1:%d" % self.port

    def reset_counts(self):
        with self.lock:
            self.counts.clear()
            self.log.clear()


def start():
    srv = Server()
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


if __name__ == "__main__":
    s = start()
    if len(sys.argv) > 1:
        for name in os.listdir(sys.argv[1]):
            with open(os.path.join(sys.argv[1], name), "rb") as f:
                s.files[name] = f.read()
    print(s.base, flush=True)
    threading.Event().wait()
