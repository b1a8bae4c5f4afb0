import Registry

/// Turns a `StatusReport` into the status page: one self-contained HTML document (inline CSS and
/// SVG; no script, font or anything else fetched) that reads on a laptop and on a phone. Every text
/// that comes from the database or the process goes through `HTMLText.escape`.
public struct StatusPage {
    /// Lists are cut to their newest entries so that the page stays under `sizeBudget` however long
    /// the registry has lived; the rest is a `registry-cli list` / `history` away.
    static let listedVersions = 50
    static let listedPromotions = 50
    /// The busiest versions of the hour drawn in the charts; more lines would not be readable.
    static let chartedVersions = 8
    /// Text from the database is cut to a length (free text such as descriptions, reasons and reload
    /// errors to `shownText` characters, names to `shownName`), and each version's metrics in the
    /// versions table to `listedMetrics`, for the same reason.
    static let shownText = 200
    static let shownName = 64
    static let listedMetrics = 6
    static let listedActiveMetrics = 24
    /// The largest page the tests and the benchmark accept, in bytes.
    public static let sizeBudget = 200 * 1024

    /// Colour-blind-safe line colours (Okabe–Ito, without the yellow that vanishes on white).
    static let palette = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#6E6E6E", "#000000"]

    let report: StatusReport
    /// When the request began: the page states the server time it took, reads included.
    let started: ContinuousClock.Instant
    /// Whether the hour saw several models, so that series need the model in their names.
    let severalModels: Bool

    public init(report: StatusReport, started: ContinuousClock.Instant = .now) {
        self.report = report
        self.started = started
        severalModels = Set(report.audit.versions.map(\.model)).count > 1
    }

    public func render() -> String {
        let renderStarted = ContinuousClock.now
        var html = ""
        html.reserveCapacity(48 * 1024)
        let active = report.models.compactMap { model in model.active.map { "\(model.name) \($0.label)" } }
        html += "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        html += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        // An empty icon, so that browsers do not ask for /favicon.ico (a 404 in their console).
        html += "<link rel=\"icon\" href=\"data:,\">"
        html += "<title>Sentinel status · \(HTMLText.escape(active.isEmpty ? "no active model" : active.joined(separator: ", ")))</title>"
        html += "<style>\(Self.css)</style></head><body>"
        html += "<header><h1>Sentinel status</h1><p class=\"muted\">\(Self.time(report.generatedAt)) UTC · the registry, this process, and the audit log's last hour</p></header><main>"
        models(into: &html)
        lastHour(into: &html)
        versions(into: &html)
        history(into: &html)
        html += "</main>"
        footer(into: &html, renderStarted: renderStarted)
        html += "</body></html>\n"
        return html
    }

    /// The page's answer when the registry cannot be read at all.
    public static func unavailable(reason: String) -> String {
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            + "<title>Sentinel status · registry unavailable</title><style>\(css)</style></head><body><header><h1>Sentinel status</h1></header>"
            + "<main><p class=\"notice bad\">The registry cannot be read: \(HTMLText.escape(reason))</p></main></body></html>\n"
    }

    // MARK: Sections

    /// One card per model with its active version and metrics, and one for this process: what it
    /// serves, how its reloads went, and its live counters.
    private func models(into html: inout String) {
        html += "<section id=\"models\"><div class=\"cards\">"
        if report.models.isEmpty {
            html += "<article class=\"card\"><h3>No models yet</h3><p class=\"notice\">The registry holds no models yet: register one with <code>registry-cli register</code>, then <code>registry-cli promote</code> it.</p></article>"
        }
        for model in report.models { activeVersion(model, into: &html) }
        processCard(into: &html)
        html += "</div></section>"
    }

    private func activeVersion(_ model: StatusReport.ModelStatus, into html: inout String) {
        let name = HTMLText.escape(model.name)
        html += "<article class=\"card\" id=\"active-\(name)\">"
        guard let version = model.active else {
            html += "<h3>No active version <span class=\"muted\">of <code>\(name)</code></span></h3><p class=\"notice\">Nothing is in production for this model, so <code>/predict</code> answers 503 for it. Promote a version: <code>registry-cli promote v\(model.versions.last?.label.number ?? 1) --model \(name)</code>.</p></article>"
            return
        }
        html += "<h3>Active version <span class=\"version\">\(version.label)</span> <span class=\"muted\">of <code>\(name)</code></span></h3><dl class=\"facts\">"
        fact("Format", HTMLText.escape(version.format.rawValue), into: &html)
        fact("Threshold", Self.number(version.threshold) + " <span class=\"muted\">(score ≥ threshold is fraud)</span>", into: &html)
        fact("Artifact", "<code title=\"\(HTMLText.escape(version.artifactSHA256))\">sha256 \(HTMLText.escape(String(version.artifactSHA256.prefix(12))))…</code> · \(DisplayNumber.bytes(Double(version.artifactSize)))", into: &html)
        fact("Active since", version.activeSince.map(Self.time) ?? "unknown", into: &html)
        fact("Registered", "\(Self.time(version.createdAt)) by \(Self.shown(version.createdBy, limit: Self.shownName))", into: &html)
        if let description = version.description { fact("Description", Self.shown(description), into: &html) }
        html += "</dl><h4>Metrics</h4>"
        if version.metrics.isEmpty {
            html += "<p class=\"muted\">None recorded at registration.</p>"
        } else {
            // Tiles, several to a row, so that a model's metrics take little height on a laptop.
            html += "<dl class=\"metrics\">"
            let sorted = version.metrics.sorted(by: { $0.key < $1.key })
            for (name, value) in sorted.prefix(Self.listedActiveMetrics) {
                html += "<div>"
                fact(Self.shown(name, limit: Self.shownName), Self.number(value), into: &html)
                html += "</div>"
            }
            html += "</dl>"
            if sorted.count > Self.listedActiveMetrics {
                html += "<p class=\"muted\">\(sorted.count - Self.listedActiveMetrics) more: <code>registry-cli show \(version.label)</code>.</p>"
            }
        }
        html += "</article>"
    }

    /// This process: the version it serves of each model and how its reloads went, then what it has
    /// counted since it started (the numbers /metrics exposes).
    private func processCard(into html: inout String) {
        html += "<article class=\"card\" id=\"this-process\"><h3>This process</h3><dl class=\"facts\">"
        for model in report.models {
            let name = HTMLText.escape(model.name)
            let serving = model.serving.map { "<span class=\"version\">\($0.label)</span>" } ?? "nothing"
            let agreement: String
            switch (model.serving?.id, model.active?.id) {
            case (let serving?, let active?) where serving == active: agreement = "<span class=\"ok\">the registry's active version</span>"
            case (_, nil): agreement = "<span class=\"muted\">no version is active in the registry</span>"
            case (nil, _?): agreement = "<span class=\"warn\">not loaded yet</span>"
            default: agreement = "<span class=\"warn\">not the registry's active version (reload pending or refused)</span>"
            }
            html += "<dt>Serving <code>\(name)</code></dt><dd id=\"serving-\(name)\">\(serving) · \(agreement)</dd>"
            let reload = model.reload
            fact("Last reload", reload?.lastReloadAt.map { Self.time(Timestamp.format($0)) } ?? "none yet", into: &html)
            if let failure = reload?.lastFailure {
                let when = reload?.lastFailureAt.map { Self.time(Timestamp.format($0)) } ?? ""
                let version = reload?.failedVersion.map { " of \($0)" } ?? ""
                fact("Refused load", "<span class=\"bad\">\(when)\(HTMLText.escape(version)): \(Self.shown(failure))</span>", into: &html)
            }
        }
        let live = report.live
        if let start = live.processStartTime {
            fact("Started", Self.time(Timestamp.format(unixMilliseconds: Int64(start * 1_000))), into: &html)
        }
        let classes = ["2xx", "4xx", "5xx"].map { "\(DisplayNumber.grouped(live.responsesByClass[$0] ?? 0)) \($0)" }
        fact("HTTP responses", classes.joined(separator: " · "), into: &html)
        fact("Audit rows written", DisplayNumber.grouped(live.auditRowsWritten) + " · \(DisplayNumber.grouped(live.auditQueueDepth)) waiting", into: &html)
        let refused = live.auditRowsRefused + live.auditRowsFailed
        fact("Audit refusals", refused == 0 ? "<span class=\"ok\">none</span>"
             : "<span class=\"bad\">\(DisplayNumber.grouped(live.auditRowsRefused)) refused (queue full), \(DisplayNumber.grouped(live.auditRowsFailed)) failed</span>", into: &html)
        if let resident = live.residentBytes { fact("Memory (RSS)", DisplayNumber.bytes(resident), into: &html) }
        html += "</dl><h4>Predictions since start</h4>"
        if live.predictions.allSatisfy({ $0.predictions == 0 }) {
            html += "<p class=\"muted\">None yet.</p>"
        } else {
            html += "<div class=\"scroll\"><table><thead><tr><th>Version</th><th class=\"num\">Predictions</th><th class=\"num\">Flagged as fraud</th></tr></thead><tbody>"
            for count in live.predictions where count.predictions > 0 {
                let share = Double(count.flagged) / Double(count.predictions)
                html += "<tr><td>\(HTMLText.escape(count.model)) \(HTMLText.escape(count.version))</td><td class=\"num\">\(DisplayNumber.grouped(count.predictions))</td>"
                html += "<td class=\"num\">\(DisplayNumber.grouped(count.flagged)) (\(DisplayNumber.percent(share)))</td></tr>"
            }
            html += "</tbody></table></div>"
        }
        html += "</article>"
    }

    /// The audit log's last hour: a table per version and the three charts.
    private func lastHour(into html: inout String) {
        let audit = report.audit
        let window = audit.window
        let from = Self.clock(window.start), to = Self.clock(window.end)
        html += "<section id=\"last-hour\"><h2>Last hour by version <span class=\"muted\">\(from)–\(to) UTC, from the audit log</span></h2>"
        let charted = chartedVersions()
        let xLabels = stride(from: 0, to: window.minutes, by: 15).map { (slot: $0, text: Self.clock(window.minuteStart($0))) }
            + [(slot: window.minutes - 1, text: Self.clock(window.minuteStart(window.minutes - 1)))]
        let empty = "No predictions in the last hour"
        // A version's three latency lines share its colour and differ in style.
        let percentiles: [(name: String, style: SVGLineChart.LineStyle, value: (LatencyPercentiles) -> Int)] = [
            ("p50", .solid, \.p50), ("p95", .dashed, \.p95), ("p99", .dotted, \.p99),
        ]
        html += "<div class=\"charts\">"
        chart(id: "chart-predictions", caption: "Predictions per minute", SVGLineChart(
            title: "Predictions per minute by version, last hour", slots: window.minutes, xLabels: xLabels,
            yLabel: Self.count,
            series: charted.map { version, colour in
                .init(name: seriesName(version), colour: colour, style: .solid, values: version.minutes.map { $0.map { Double($0.predictions) } })
            },
            emptyMessage: empty), into: &html)
        chart(id: "chart-latency", caption: "Latency p50 / p95 / p99", SVGLineChart(
            title: "Scoring latency percentiles per minute by version, last hour", slots: window.minutes, xLabels: xLabels,
            yLabel: { DisplayNumber.latency(microseconds: Int($0.rounded())) },
            series: charted.flatMap { version, colour in
                percentiles.map { percentile in
                    SVGLineChart.Series(name: seriesName(version) + " " + percentile.name, colour: colour, style: percentile.style,
                                        values: version.minutes.map { $0.map { Double(percentile.value($0.latency)) } })
                }
            },
            emptyMessage: empty), into: &html)
        chart(id: "chart-flagged", caption: "Share flagged as fraud", SVGLineChart(
            title: "Share of predictions flagged as fraud per minute by version, last hour", slots: window.minutes, xLabels: xLabels,
            yLabel: { share in
                // Axis steps are quarters of 1, 2, 4 or 8 × 10ⁿ: whole percentages but for small scales.
                let percent = (share * 10_000).rounded() / 100
                return DisplayNumber.fixed(percent, digits: percent == percent.rounded() ? 0 : percent < 1 ? 2 : 1) + "%"
            },
            series: charted.map { version, colour in
                .init(name: seriesName(version), colour: colour, style: .solid, values: version.minutes.map { $0.map(\.flaggedShare) })
            },
            emptyMessage: empty, yCeiling: 1), into: &html)
        html += "</div>"
        if audit.versions.isEmpty {
            html += "<p class=\"notice spaced\" id=\"no-audit-rows\">No predictions were recorded in the last hour: the charts fill in as <code>/predict</code> answers.</p>"
        } else {
            html += "<div class=\"scroll spaced\"><table><thead><tr><th>Version</th><th class=\"num\">Predictions</th><th class=\"num\">Flagged as fraud</th><th class=\"num\">p50</th><th class=\"num\">p95</th><th class=\"num\">p99</th></tr></thead><tbody>"
            for version in audit.versions {
                html += "<tr><td>\(HTMLText.escape(seriesName(version)))</td><td class=\"num\">\(DisplayNumber.grouped(version.predictions))</td>"
                html += "<td class=\"num\">\(DisplayNumber.grouped(version.flagged)) (\(DisplayNumber.percent(version.flaggedShare)))</td>"
                html += "<td class=\"num\">\(DisplayNumber.latency(microseconds: version.latency.p50))</td><td class=\"num\">\(DisplayNumber.latency(microseconds: version.latency.p95))</td>"
                html += "<td class=\"num\">\(DisplayNumber.latency(microseconds: version.latency.p99))</td></tr>"
            }
            html += "</tbody></table></div>"
        }
        if audit.versions.count > charted.count {
            html += "<p class=\"muted\">The \(charted.count) busiest of \(audit.versions.count) versions are drawn; the table lists all.</p>"
        }
        html += "</section>"
    }

    private func chart(id: String, caption: String, _ chart: SVGLineChart, into html: inout String) {
        html += "<figure class=\"card\" id=\"\(id)\"><figcaption>\(HTMLText.escape(caption))</figcaption>"
        chart.render(into: &html)
        if !chart.series.isEmpty {
            html += "<ul class=\"legend\">"
            for series in chart.series {
                html += "<li><span class=\"swatch\" style=\"border-top:3px \(series.style.borderStyle) \(series.colour)\"></span>\(HTMLText.escape(series.name))</li>"
            }
            html += "</ul>"
        }
        html += "</figure>"
    }

    /// Every model's versions, newest first, cut to `listedVersions` per model.
    private func versions(into html: inout String) {
        guard !report.models.isEmpty else { return }
        html += "<section id=\"versions\"><h2>Versions</h2><div class=\"scroll\"><table class=\"wide\"><thead><tr><th>Version</th><th>Stage</th><th>Format</th><th class=\"num\">Threshold</th><th>Metrics</th><th>sha256</th><th>Registered</th><th>Description</th></tr></thead><tbody>"
        var hidden = 0
        for model in report.models {
            let newest = model.versions.suffix(Self.listedVersions).reversed()
            hidden += model.versions.count - newest.count
            for version in newest {
                let sorted = version.metrics.sorted(by: { $0.key < $1.key })
                var metrics = sorted.prefix(Self.listedMetrics).map { "\(Self.shown($0.key, limit: Self.shownName)) \(Self.number($0.value))" }.joined(separator: " · ")
                if sorted.count > Self.listedMetrics { metrics += " · \(sorted.count - Self.listedMetrics) more" }
                html += "<tr class=\"stage-\(version.stage.rawValue)\"><td>\(HTMLText.escape(model.name)) <span class=\"version\">\(version.label)</span></td>"
                html += "<td>\(version.stage.rawValue)</td><td>\(HTMLText.escape(version.format.rawValue))</td><td class=\"num\">\(Self.number(version.threshold))</td>"
                html += "<td>\(metrics.isEmpty ? "–" : metrics)</td><td><code title=\"\(HTMLText.escape(version.artifactSHA256))\">\(HTMLText.escape(String(version.artifactSHA256.prefix(12))))</code></td>"
                html += "<td>\(Self.time(version.createdAt)) by \(Self.shown(version.createdBy, limit: Self.shownName))</td><td>\(Self.shown(version.description ?? ""))</td></tr>"
            }
        }
        html += "</tbody></table></div>"
        if hidden > 0 { html += "<p class=\"muted\">\(DisplayNumber.grouped(hidden)) older versions not listed: <code>registry-cli list</code> shows every one.</p>" }
        html += "</section>"
    }

    /// Promotions and rollbacks, newest first, cut to `listedPromotions`.
    private func history(into html: inout String) {
        html += "<section id=\"history\"><h2>Promotion history</h2>"
        guard !report.history.isEmpty else {
            html += "<p class=\"notice\">No version has been promoted yet.</p></section>"
            return
        }
        html += "<div class=\"scroll\"><table><thead><tr><th>When (UTC)</th><th>Model</th><th>Change</th><th>By</th><th>Reason</th></tr></thead><tbody>"
        for promotion in report.history.suffix(Self.listedPromotions).reversed() {
            let from = promotion.from.map { "<span class=\"version\">\($0)</span>" } ?? "nothing"
            html += "<tr><td>\(Self.time(promotion.at))</td><td>\(HTMLText.escape(promotion.model))</td>"
            html += "<td>\(promotion.action.rawValue): \(from) → <span class=\"version\">\(promotion.to)</span></td>"
            html += "<td>\(Self.shown(promotion.by, limit: Self.shownName))</td><td>\(Self.shown(promotion.reason ?? ""))</td></tr>"
        }
        html += "</tbody></table></div>"
        if report.history.count > Self.listedPromotions {
            html += "<p class=\"muted\">\(DisplayNumber.grouped(report.history.count - Self.listedPromotions)) earlier entries not listed: <code>registry-cli history</code> shows every one.</p>"
        }
        html += "</section>"
    }

    /// How much was summarised and what the page cost, in words and as data attributes for scripts.
    private func footer(into html: inout String, renderStarted: ContinuousClock.Instant) {
        let audit = report.audit
        let finished = ContinuousClock.now
        html += "<footer id=\"render-stats\" data-audit-rows=\"\(audit.rowCount)\" data-window-start=\"\(audit.window.start)\" data-window-end=\"\(audit.window.end)\">"
        html += "<p>Summarised <strong>\(DisplayNumber.grouped(audit.rowCount))</strong> audit rows from \(Self.time(audit.window.start)) to \(Self.time(audit.window.end)) UTC "
        html += "(per-minute counts, plus \(DisplayNumber.grouped(audit.rowsReadDirectly)) newer rows read one by one; latency percentiles to within a bucket, 12 a decade, over scored rows: each row of a batch carries its request's latency). "
        html += "Server time <strong>\(DisplayNumber.milliseconds(finished - started))</strong>: registry reads \(DisplayNumber.milliseconds(report.readDuration)), "
        html += "rendering \(DisplayNumber.milliseconds(finished - renderStarted)).</p></footer>"
    }

    // MARK: Helpers

    private func fact(_ term: String, _ definition: String, into html: inout String) {
        html += "<dt>\(term)</dt><dd>\(definition)</dd>"
    }

    /// The versions drawn, with their colours: the busiest of the hour, listed in model and version
    /// order so that each keeps its colour while the page is reloaded.
    private func chartedVersions() -> [(version: VersionActivity, colour: String)] {
        let busiest = Set(report.audit.versions.sorted { $0.predictions > $1.predictions }.prefix(Self.chartedVersions).map(\.versionID))
        return report.audit.versions.filter { busiest.contains($0.versionID) }.enumerated().map { index, version in
            (version, Self.palette[index % Self.palette.count])
        }
    }

    /// `v3`, or `fraud v3` when the hour saw more than one model.
    private func seriesName(_ version: VersionActivity) -> String {
        severalModels ? "\(version.model) \(version.label)" : "\(version.label)"
    }

    /// Text from the database, escaped and cut to `limit` characters.
    static func shown(_ text: String, limit: Int = shownText) -> String {
        text.count <= limit ? HTMLText.escape(text) : HTMLText.escape(String(text.prefix(limit))) + "…"
    }

    /// A stored-form time as people read it, `2026-11-29 08:30:00` (UTC, to the second), in a
    /// `<time>` element that keeps the exact value.
    static func time(_ stored: String) -> String {
        let characters = Array(stored.utf8)
        guard characters.count >= 19, characters[10] == UInt8(ascii: "T") else { return HTMLText.escape(stored) }
        let shown = String(decoding: characters[0..<10], as: UTF8.self) + " " + String(decoding: characters[11..<19], as: UTF8.self)
        return "<time datetime=\"\(HTMLText.escape(stored))\">\(HTMLText.escape(shown))</time>"
    }

    /// `HH:MM` of a stored-form time.
    static func clock(_ stored: String) -> String {
        let characters = Array(stored.utf8)
        guard characters.count >= 16 else { return stored }
        return String(decoding: characters[11..<16], as: UTF8.self)
    }

    /// A metric or threshold: four decimals below 1, two up to 1,000, none above.
    static func number(_ value: Double) -> String {
        let magnitude = abs(value)
        return DisplayNumber.fixed(value, digits: magnitude >= 1_000 ? 0 : magnitude >= 1 ? 2 : 4)
    }

    /// A count on an axis: whole numbers plainly, quarters of small scales with their decimals.
    static func count(_ value: Double) -> String {
        abs(value - value.rounded()) < 1e-9 ? DisplayNumber.grouped(Int(value.rounded())) : DisplayNumber.fixed(value, digits: 2)
    }

    static let css = """
        :root{color-scheme:light dark;--fg:#1f2328;--muted:#59636e;--bg:#f6f8fa;--card:#fff;--line:#d1d9e0;--ok:#1a7f37;--warn:#9a6700;--bad:#cf222e}\
        @media (prefers-color-scheme:dark){:root{--fg:#e6edf3;--muted:#9198a1;--bg:#0d1117;--card:#151b23;--line:#3d444d;--ok:#3fb950;--warn:#d29922;--bad:#f85149}}\
        *{box-sizing:border-box}\
        body{margin:0;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans",sans-serif;color:var(--fg);background:var(--bg)}\
        header,main,footer{max-width:1200px;margin:0 auto;padding:10px 16px}main{padding-top:0}#models{margin-top:6px}\
        h1{font-size:1.4rem;margin:6px 0 0}h2{font-size:1.15rem;margin:1.3rem 0 .6rem}h3{font-size:1rem;margin:0 0 .5rem}h4{font-size:.9rem;margin:.8rem 0 .3rem}\
        p{margin:.3rem 0}code{font:.85em ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}\
        .muted{color:var(--muted);font-weight:normal;font-size:.9rem}.ok{color:var(--ok)}.warn{color:var(--warn)}.bad{color:var(--bad)}\
        .cards,.charts{display:grid;gap:12px;grid-template-columns:repeat(auto-fit,minmax(min(320px,100%),1fr))}\
        .charts{grid-template-columns:repeat(auto-fit,minmax(min(340px,100%),1fr))}\
        .card{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:12px 14px;min-width:0;margin:0}\
        .badge{font-size:.8rem;font-weight:600;border-radius:999px;padding:2px 8px;background:var(--ok);color:#fff;vertical-align:middle}\
        .version{font-weight:600}\
        dl.facts{display:grid;grid-template-columns:max-content minmax(0,1fr);gap:3px 12px;margin:0}dt{color:var(--muted)}dd{margin:0;overflow-wrap:anywhere}\
        dl.metrics{display:grid;grid-template-columns:repeat(auto-fill,minmax(150px,1fr));gap:6px;margin:0}\
        dl.metrics div{border:1px solid var(--line);border-radius:6px;padding:3px 8px}dl.metrics dt{font-size:.8rem}dl.metrics dd{font-weight:600;font-variant-numeric:tabular-nums}\
        figcaption{font-weight:600;margin-bottom:4px}\
        svg.chart{width:100%;height:auto;display:block}\
        svg .frame{fill:none;stroke:var(--line)}svg .grid{stroke:var(--line);stroke-dasharray:2 3}\
        svg .axis{fill:var(--muted);font-size:13px}svg .empty{fill:var(--muted);font-size:16px}\
        svg .series{fill:none;stroke-width:2;stroke-linecap:round;stroke-linejoin:round}\
        .legend{list-style:none;padding:0;margin:6px 0 0;display:flex;flex-wrap:wrap;gap:2px 14px;font-size:.85rem}\
        .swatch{display:inline-block;width:22px;height:0;vertical-align:middle;margin-right:6px}\
        .scroll{overflow-x:auto;background:var(--card);border:1px solid var(--line);border-radius:8px}.spaced{margin-top:12px}\
        table{border-collapse:collapse;width:100%;font-size:.9rem}table.wide{min-width:900px}\
        th,td{text-align:left;padding:5px 10px;border-bottom:1px solid var(--line);vertical-align:top}\
        tbody tr:last-child td{border-bottom:0}th{color:var(--muted);font-weight:600;white-space:nowrap}\
        .num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}\
        tr.stage-production td:first-child{box-shadow:inset 3px 0 var(--ok)}\
        .notice{padding:10px 12px;border-left:4px solid var(--warn);background:var(--card);border-radius:4px}\
        .notice.bad{border-left-color:var(--bad)}\
        footer{color:var(--muted);font-size:.85rem;padding-bottom:24px}
        """
}
