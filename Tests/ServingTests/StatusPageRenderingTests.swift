import Foundation
import Testing
@testable import ModelRuntime
@testable import Registry
@testable import Serving

/// The status page's parts without a server: escaping, number formatting, the SVG charts, the live
/// counters read from /metrics text, and the size bound on a registry with a long life.
struct StatusPageRenderingTests {
    @Test func escapesEveryCharacterThatCouldOpenMarkup() {
        #expect(HTMLText.escape("plain text stays") == "plain text stays")
        #expect(HTMLText.escape(#"<a href="x" onclick='y'>&</a>"#) == "&lt;a href=&quot;x&quot; onclick=&#39;y&#39;&gt;&amp;&lt;/a&gt;")
        #expect(HTMLText.escape("naïve ✓ <b>") == "naïve ✓ &lt;b&gt;")
    }

    @Test func formatsNumbersWithoutFoundation() {
        #expect(DisplayNumber.fixed(0.828672, digits: 4) == "0.8287")
        #expect(DisplayNumber.fixed(0.06, digits: 4) == "0.0600")
        #expect(DisplayNumber.fixed(2.5, digits: 0) == "3")
        #expect(DisplayNumber.fixed(-1.25, digits: 1) == "-1.3")
        #expect(DisplayNumber.fixed(-0.01, digits: 1) == "0.0")
        #expect(DisplayNumber.fixed(.nan, digits: 2) == "–")
        #expect(DisplayNumber.grouped(0) == "0" && DisplayNumber.grouped(999) == "999")
        #expect(DisplayNumber.grouped(1_000_000) == "1,000,000" && DisplayNumber.grouped(-12_345) == "-12,345")
        #expect(DisplayNumber.percent(0.0784) == "7.8%")
        #expect(DisplayNumber.latency(microseconds: 850) == "850 µs")
        #expect(DisplayNumber.latency(microseconds: 1_250) == "1.25 ms")
        #expect(DisplayNumber.latency(microseconds: 25_000) == "25.0 ms")
        #expect(DisplayNumber.latency(microseconds: 2_100_000) == "2.1 s")
        #expect(DisplayNumber.bytes(512) == "512 B" && DisplayNumber.bytes(628_000) == "613.3 KiB")
        #expect(DisplayNumber.milliseconds(.microseconds(3_420)) == "3.42 ms")
        #expect(StatusPage.time("2026-11-29T08:30:00.123Z") == "<time datetime=\"2026-11-29T08:30:00.123Z\">2026-11-29 08:30:00</time>")
    }

    @Test func chartAxesFallOnRoundNumbers() {
        #expect(SVGLineChart.niceCeiling(0) == 1)
        #expect(SVGLineChart.niceCeiling(3) == 4)
        #expect(SVGLineChart.niceCeiling(130) == 200)
        #expect(SVGLineChart.niceCeiling(0.07) == 0.08)
        #expect(SVGLineChart.niceCeiling(850) == 1_000)
    }

    @Test func chartsBreakLinesAtGapsMarkLonePointsAndSayWhenEmpty() {
        let chart = SVGLineChart(
            title: "t", slots: 6, xLabels: [(0, "00:00"), (5, "00:05")], yLabel: { "\($0)" },
            series: [.init(name: "v1 <x>", colour: "#000", style: .dashed, values: [1, 2, nil, 3, nil, nil])],
            emptyMessage: "nothing")
        var html = ""
        chart.render(into: &html)
        #expect(html.hasPrefix("<svg class=\"chart\"") && html.hasSuffix("</svg>"))
        #expect(html.contains("data-series=\"v1 &lt;x&gt;\" data-points=\"3\""))
        // Two runs: slots 0-1 joined, slot 3 alone (a dot and a marker).
        let path = html.components(separatedBy: " d=\"")[1].components(separatedBy: "\"")[0]
        #expect(path.components(separatedBy: "M").count == 3 && path.components(separatedBy: " L").count == 2 && path.hasSuffix(" l0,0"))
        #expect(html.components(separatedBy: "<circle class=\"point\"").count == 2)
        #expect(html.contains("stroke-dasharray=\"7 4\""))
        #expect(!html.contains("class=\"empty\""))

        let empty = SVGLineChart(title: "t", slots: 60, xLabels: [], yLabel: { "\($0)" },
                                 series: [.init(name: "v1", colour: "#000", style: .solid, values: Array(repeating: nil, count: 60))],
                                 emptyMessage: "No predictions in the last hour")
        var emptyHTML = ""
        empty.render(into: &emptyHTML)
        #expect(emptyHTML.contains(">No predictions in the last hour</text></svg>"))
        #expect(!emptyHTML.contains("<path"))
    }

    @Test func readsTheLiveCountersFromTheExposition() {
        let exposition = """
            # TYPE sentinel_predictions_total counter
            sentinel_predictions_total{model="fraud",version="v10",decision="legit"} 90
            sentinel_predictions_total{model="fraud",version="v10",decision="fraud"} 10
            sentinel_predictions_total{model="fraud",version="v9",decision="legit"} 5
            sentinel_http_requests_total{route="/predict",status="200"} 105
            sentinel_http_requests_total{route="/predict",status="422"} 3
            sentinel_http_requests_total{route="/readyz",status="503"} 2
            sentinel_audit_queue_depth 4.0
            sentinel_audit_rows_written_total 105
            sentinel_audit_rows_refused_total 1
            process_resident_memory_bytes 5.24288e7
            process_start_time_seconds 1795995000.5
            sentinel_http_request_duration_seconds_bucket{route="/predict",le="0.0001"} 7
            not a sample line
            """
        let live = LiveCounters(exposition: Array(exposition.utf8))
        #expect(live.predictions == [
            .init(model: "fraud", version: "v9", predictions: 5, flagged: 0),
            .init(model: "fraud", version: "v10", predictions: 100, flagged: 10),
        ])
        #expect(live.responsesByClass == ["2xx": 105, "4xx": 3, "5xx": 2])
        #expect(live.auditQueueDepth == 4 && live.auditRowsWritten == 105 && live.auditRowsRefused == 1 && live.auditRowsFailed == 0)
        #expect(live.residentBytes == 52_428_800 && live.processStartTime == 1_795_995_000.5)
    }

    /// A registry with a long life and hostile, oversized text: the page keeps to its size bound,
    /// lists only the newest versions and promotions, and draws only the busiest versions.
    @Test func staysUnderItsSizeBoundWithALongHistory() {
        let window = AuditWindow(startUnixMilliseconds: 1_795_995_000_000, minutes: 60)
        let long = String(repeating: "<script>x</script> ", count: 600)
        let metrics = Dictionary(uniqueKeysWithValues: (0..<40).map { ("metric_\($0)", Double($0) / 7) })
        let versions = (1...400).map { number in
            ModelVersion(id: Int64(number), model: "fraud", label: VersionLabel(number), format: .xgboostJSON,
                         artifactSHA256: String(repeating: "ab", count: 32), artifactSize: 1 << 20, featureNames: ["amount"],
                         threshold: 0.06, description: long, stage: number == 400 ? .production : .registered,
                         createdAt: window.start, createdBy: long, metrics: metrics, activeSince: number == 400 ? window.start : nil)
        }
        let history = (1...300).map { index in
            Promotion(id: Int64(index), model: "fraud", from: VersionLabel(index), to: VersionLabel(index + 1), action: .promote,
                      at: window.start, by: "ci", reason: long)
        }
        let activity = (385...400).map { number in
            let minute = MinuteActivity(predictions: 700, flagged: 50, latency: LatencyPercentiles(p50: 600, p95: 1_200, p99: 9_000))
            return VersionActivity(versionID: Int64(number), model: "fraud", label: VersionLabel(number),
                                   minutes: Array(repeating: minute, count: 60), predictions: 42_000, flagged: 3_000,
                                   latency: LatencyPercentiles(p50: 600, p95: 1_200, p99: 9_000))
        }
        let report = StatusReport(
            generatedAt: window.end,
            models: [.init(name: "fraud", versions: versions, serving: versions.last, reload: nil)],
            history: history, audit: AuditSummary(window: window, versions: activity), live: LiveCounters(),
            readDuration: .milliseconds(3))
        let html = StatusPage(report: report).render()
        #expect(html.utf8.count < StatusPage.sizeBudget, "\(html.utf8.count) bytes")
        #expect(!html.contains("<script"))
        #expect(html.contains("350 older versions not listed"))
        #expect(html.contains("250 earlier entries not listed"))
        #expect(html.contains("The 8 busiest of 16 versions are drawn"))
        #expect(html.components(separatedBy: "<svg class=\"chart\"").count == 4)
        #expect(html.contains("data-audit-rows=\"672000\""))
    }

    @Test func saysSoWhenThereIsNothingToShow() {
        let window = AuditWindow(startUnixMilliseconds: 1_795_995_000_000, minutes: 60)
        let report = StatusReport(generatedAt: window.end, models: [], history: [], audit: AuditSummary(window: window, versions: []),
                                  live: LiveCounters(), readDuration: .zero)
        let html = StatusPage(report: report).render()
        #expect(html.contains("The registry holds no models yet"))
        #expect(html.contains("No version has been promoted yet"))
        #expect(html.contains("id=\"no-audit-rows\""))
        #expect(html.components(separatedBy: "<text class=\"empty\"").count == 4)
        #expect(html.contains("<title>Sentinel status · no active model</title>"))
    }
}
