import Foundation
import Testing

/// `PredictChannelHandler` answers predictions in the channel pipeline and lets every other request
/// through to Hummingbird's router, holding requests while answers are outstanding. Random mixes of
/// both kinds, good and refused, plain and chunked, pipelined on one connection and sent in pieces
/// of random size, must come back in their order, each with its own answer, and exactly the
/// predictions answered 200 must be recorded.
struct PipelineFuzzTests {
    /// In both audit modes: sync answers after the commit (requests behind it are held), async at once.
    @Test(arguments: ["sync", "async"])
    func randomPipelinesAreAnsweredInOrderAndRecordedExactly(auditMode: String) async throws {
        let h = try ServiceHarness()
        try h.initWithXGBoostPromoted()
        try await h.start(["--max-body-bytes", "4096", "--audit-mode", auditMode])
        defer { h.killIfRunning() }
        let features = try GoldenRequests("fraud-xgboost", limit: 1).features[0]
        // Seeds 1-3, five connections each: a failure names its seed, connection and request.
        let report = try Python.run("""
            import json, random, socket, sys, time
            features = sys.stdin.read()
            port = int(sys.argv[1])
            def head(method, path, fields):
                return ("%s %s HTTP/1.1\\r\\nHost: s\\r\\n%s\\r\\n" % (method, path, "".join("%s: %s\\r\\n" % f for f in fields))).encode()
            def prediction(rnd, request_id):
                body = ('{"request_id":"%s","features":%s}' % (request_id, features)).encode()
                if rnd.random() < 0.3:
                    chunks, at = [], 0
                    while at < len(body):
                        size = rnd.randint(1, 200)
                        chunks.append(b"%x\\r\\n%s\\r\\n" % (len(body[at:at + size]), body[at:at + size]))
                        at += size
                    return head("POST", "/predict", [("Content-Type", "application/json"), ("Transfer-Encoding", "chunked")]) + b"".join(chunks) + b"0\\r\\n\\r\\n"
                return head("POST", "/predict", [("Content-Type", "application/json"), ("Content-Length", len(body))]) + body
            def request(rnd, name):
                kind = rnd.choice(["predict", "predict", "predict", "bad json", "wrong type", "too large", "healthz", "models", "query"])
                if kind == "predict":
                    return prediction(rnd, name), (200, name)
                if kind == "bad json":
                    return head("POST", "/predict", [("Content-Type", "application/json"), ("Content-Length", 5)]) + b"{oops", (400, None)
                if kind == "wrong type":
                    return head("POST", "/predict", [("Content-Type", "text/plain"), ("Content-Length", 5)]) + b"hello", (415, None)
                if kind == "too large":
                    return head("POST", "/predict", [("Content-Type", "application/json"), ("Content-Length", 5000)]) + b"x" * 5000, (413, None)
                if kind == "query":
                    body = ('{"features":%s}' % features).encode()
                    return head("POST", "/predict?model=fraud", [("Content-Type", "application/json"), ("Content-Length", len(body))]) + body, (400, None)
                return head("GET", "/" + kind, []), (200, kind)
            def answers(connection, count):
                received, parsed = b"", []
                while len(parsed) < count:
                    try:
                        chunk = connection.recv(65536)
                    except OSError:
                        break  # reported as missing answers
                    if not chunk:
                        break
                    received += chunk
                    while b"\\r\\n\\r\\n" in received:
                        top, _, rest = received.partition(b"\\r\\n\\r\\n")
                        lines = top.decode("latin-1").split("\\r\\n")
                        fields = {n.strip().lower(): v.strip() for n, _, v in (l.partition(":") for l in lines[1:])}
                        length = int(fields.get("content-length", "0"))
                        if len(rest) < length:
                            break
                        status = lines[0].split()
                        parsed.append((int(status[1]) if len(status) > 1 and status[1].isdigit() else -1, rest[:length].decode("latin-1")))
                        received = rest[length:]
                return parsed
            failures, recorded = [], []
            for seed in (1, 2, 3):
                rnd = random.Random(seed)
                for number in range(5):
                    sent = [request(rnd, "s%d-c%d-r%d" % (seed, number, n)) for n in range(rnd.randint(5, 25))]
                    payload = b"".join(part for part, _ in sent)
                    connection = socket.create_connection(("127.0.0.1", port))
                    connection.settimeout(5)
                    at = 0
                    while at < len(payload):
                        size = rnd.choice([1, 7, 100, 1000, 10000, len(payload)])
                        connection.sendall(payload[at:at + size])
                        at += size
                        if rnd.random() < 0.2:
                            time.sleep(0.002)
                    got = answers(connection, len(sent))
                    connection.close()
                    if len(got) != len(sent):
                        failures.append("seed %d connection %d: %d answers to %d requests" % (seed, number, len(got), len(sent)))
                        continue
                    for index, ((_, (status, tag)), (answered, body)) in enumerate(zip(sent, got)):
                        where = "seed %d connection %d request %d" % (seed, number, index)
                        if answered != status:
                            failures.append("%s: %d, expected %d: %s" % (where, answered, status, body[:120]))
                        elif status == 200 and tag.startswith("s") and '"request_id":"%s"' % tag not in body:
                            failures.append("%s: another request's answer: %s" % (where, body[:120]))
                        elif status == 200 and tag == "models" and '"fraud"' not in body:
                            failures.append("%s: not the models list: %s" % (where, body[:120]))
                        elif status == 200 and tag.startswith("s"):
                            recorded.append(tag)
            print(json.dumps({"failures": failures, "recorded": recorded}))
            """, stdin: features, arguments: ["\(h.port)"])
        let result = try #require(try JSONSerialization.jsonObject(with: Data(report.utf8)) as? [String: [String]], "\(report)")
        let failures = result["failures"] ?? ["no report"]
        #expect(failures.isEmpty, "\(failures.prefix(10))")
        let answered = result["recorded"] ?? []
        #expect(answered.count > 40, "only \(answered.count) predictions answered 200")
        #expect(try await h.stop() == 0)
        let rows = try h.sqlite("SELECT request_id FROM predictions ORDER BY id").split(separator: "\n").map(String.init)
        #expect(rows == answered, "recorded \(rows.count) rows for \(answered.count) predictions answered 200")
    }
}
