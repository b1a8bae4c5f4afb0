import Foundation
import Serving
import Testing

/// `GET /`, the status page, from the real service: what it says with no model, with no active
/// version and no predictions, and after traffic on two versions with a promotion in between.
@Suite(.serialized)
struct StatusPageTests {
    static let hostileDescription = "<script>alert(1)</script>"
    static let hostileReason = "\"><img src=x onerror=alert(2)> & more"

    @Test func showsModelsVersionsHistoryAndTheLastHourByVersion() async throws {
        let h = try ServiceHarness()
        #expect(try h.cli(["init"]).status == 0)
        try await h.start(waitForReady: false)
        defer { h.killIfRunning() }

        // An empty registry: a page that says so, not an error.
        let empty = try await h.get("/")
        #expect(empty.status == 200 && empty.contentType == "text/html; charset=utf-8")
        #expect(empty.body.contains("The registry holds no models yet"))
        try Self.expectWellFormedCharts(empty.body, series: 0)

        // Two versions, none active yet: the page says there is none, and draws empty charts.
        try h.register("fraud-xgboost")
        let lightgbm = ServiceHarness.models.appendingPathComponent("fraud-lightgbm")
        let registered = try h.cli(["register", "--model", "fraud", "--format", "lightgbm-text",
                                    "--artifact", lightgbm.appendingPathComponent("model.txt").path,
                                    "--metrics-file", lightgbm.appendingPathComponent("metrics.json").path,
                                    "--golden", lightgbm.appendingPathComponent("golden.jsonl").path,
                                    "--threshold", "0.07", "--description", Self.hostileDescription])
        #expect(registered.status == 0, "\(registered.stderr)")
        let inactive = try await h.get("/")
        #expect(inactive.status == 200)
        #expect(inactive.body.contains("No active version"))
        #expect(inactive.body.contains("id=\"no-audit-rows\""))
        #expect(inactive.body.contains("data-audit-rows=\"0\""))
        try Self.expectWellFormedCharts(inactive.body, series: 0)

        // Traffic on v1, then v2 promoted (with a hostile reason) and traffic on it.
        #expect(try h.cli(["promote", "v1"]).status == 0)
        try await h.waitUntilReady()
        let golden = try GoldenRequests("fraud-xgboost", limit: 60)
        for body in golden.bodies.prefix(10) { #expect(try await h.post("/predict", body: body).status == 200) }
        let batch = "{\"instances\":[\(golden.features.prefix(20).joined(separator: ","))]}"
        #expect(try await h.post("/predict", body: batch).status == 200)
        #expect(try h.cli(["promote", "v2", "--reason", Self.hostileReason]).status == 0)
        try await Self.waitUntilServing("v2", h)
        for body in golden.bodies.suffix(40) { #expect(try await h.post("/predict", body: body).status == 200) }

        let page = try await h.get("/")
        #expect(page.status == 200)
        #expect(page.contentType == "text/html; charset=utf-8")
        let html = page.body
        #expect(html.utf8.count < StatusPage.sizeBudget)
        #expect(html.hasPrefix("<!doctype html>"))
        #expect(html.contains("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"))

        // The active version, its metrics and threshold, and what this process serves.
        #expect(html.contains("Active version <span class=\"version\">v2</span>"))
        #expect(html.contains("<dt>Serving <code>fraud</code></dt><dd id=\"serving-fraud\"><span class=\"version\">v2</span> · <span class=\"ok\">the registry's active version</span>"))
        #expect(html.contains("<td>fraud v2</td><td class=\"num\">40</td>"), "live counters: v2's predictions since start")
        let metrics = try JSONSerialization.jsonObject(with: Data(contentsOf: lightgbm.appendingPathComponent("metrics.json"))) as! [String: Double]
        for (name, value) in metrics {
            #expect(html.contains("<dt>\(name)</dt><dd>\(String(format: "%.4f", value))</dd>"), "metric \(name)")
        }
        #expect(html.contains("<dt>Format</dt><dd>lightgbm-text</dd>"))
        #expect(html.contains("<dt>Threshold</dt><dd>0.0700"))

        // Both versions, and the promotion history with the newest first.
        #expect(html.contains("<td>fraud <span class=\"version\">v1</span></td>"))
        #expect(html.contains("<td>fraud <span class=\"version\">v2</span></td>"))
        let second = try #require(html.range(of: "promote: <span class=\"version\">v1</span> → <span class=\"version\">v2</span>"))
        let first = try #require(html.range(of: "promote: nothing → <span class=\"version\">v1</span>"))
        #expect(second.lowerBound < first.lowerBound)

        // Database text is escaped: the description and the reason are shown, never interpreted.
        #expect(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"))
        #expect(html.contains("&quot;&gt;&lt;img src=x onerror=alert(2)&gt; &amp; more"))
        #expect(!html.contains("<script"))
        #expect(!html.contains("<img"))

        // Three charts, each with a line for each version.
        try Self.expectWellFormedCharts(html, series: 2 + 6 + 2)
        for chart in ["chart-predictions", "chart-latency", "chart-flagged"] {
            let figure = try #require(Self.element(id: chart, in: html))
            for version in ["v1", "v2"] {
                #expect(figure.contains("class=\"series\" data-series=\"\(version)"), "\(chart) has no line for \(version)")
            }
        }

        // The row count it summarised is the audit log's for the window it names.
        let rows = try #require(Self.attribute("data-audit-rows", in: html).flatMap(Int.init))
        let start = try #require(Self.attribute("data-window-start", in: html))
        let end = try #require(Self.attribute("data-window-end", in: html))
        #expect(rows == 70)
        #expect(try h.sqlite("SELECT count(*) FROM predictions WHERE predicted_at >= '\(start)' AND predicted_at < '\(end)'") == "\(rows)")
        #expect(html.contains("Summarised <strong>70</strong> audit rows"))
        #expect(html.contains("Server time <strong>"))

        // Many viewers at once: every one gets the page (concurrent requests share one report).
        let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<12 { group.addTask { try await h.get("/").status } }
            group.addTask { try await h.get("/readyz").status }
            return try await group.reduce(into: [Int]()) { $0.append($1) }
        }
        #expect(statuses == Array(repeating: 200, count: 13))

        #expect(try await h.stop() == 0)
    }

    // MARK: Helpers

    static func waitUntilServing(_ version: String, _ h: ServiceHarness) async throws {
        let deadline = Date().addingTimeInterval(20)
        while Date() < deadline {
            if (try await h.get("/readyz").json?["serving"] as? [String: String])?["fraud"] == version { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw HarnessError("\(version) never served")
    }

    /// The page's three charts are well-formed SVG (parsed as XML) holding `series` lines in all,
    /// each with at least one point; with none, each chart says it is empty.
    static func expectWellFormedCharts(_ html: String, series: Int) throws {
        let report = try Python.run("""
            import re, sys, xml.etree.ElementTree as ET
            html = sys.stdin.read()
            charts = re.findall(r'<svg class="chart".*?</svg>', html, re.S)
            ns = '{http://www.w3.org/2000/svg}'
            lines = points = empties = 0
            for chart in charts:
                root = ET.fromstring(chart)
                for path in root.iter(ns + 'path'):
                    if path.get('class') == 'series':
                        lines += 1
                        assert path.get('d', '').startswith('M'), path.get('d')
                        points += int(path.get('data-points')) > 0
                empties += any(t.get('class') == 'empty' for t in root.iter(ns + 'text'))
            print(len(charts), lines, points, empties)
            """, stdin: html)
        let expectedEmpty = series == 0 ? 3 : 0
        #expect(report == "3 \(series) \(series) \(expectedEmpty)", "charts, lines, lines with points, empty charts")
    }

    /// The markup of the element with `id`, up to its closing `</figure>`.
    static func element(id: String, in html: String) -> String? {
        guard let start = html.range(of: "id=\"\(id)\""), let end = html.range(of: "</figure>", range: start.upperBound..<html.endIndex) else { return nil }
        return String(html[start.lowerBound..<end.upperBound])
    }

    static func attribute(_ name: String, in html: String) -> String? {
        guard let start = html.range(of: "\(name)=\""), let end = html.range(of: "\"", range: start.upperBound..<html.endIndex) else { return nil }
        return String(html[start.upperBound..<end.lowerBound])
    }
}
