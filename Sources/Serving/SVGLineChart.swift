/// One line chart as inline SVG: evenly spaced slots along x (the minutes of the last hour), one
/// line per series, a gap where a series has no value. Scales to its container (viewBox, width
/// 100%), so the same markup reads on a laptop and a phone; the legend is HTML beside it.
struct SVGLineChart {
    /// How a line is drawn, so that lines of one colour (a version's percentiles) tell apart.
    enum LineStyle {
        case solid, dashed, dotted

        /// The SVG `stroke-dasharray`.
        var dashArray: String? {
            switch self {
            case .solid: return nil
            case .dashed: return "7 4"
            case .dotted: return "2 3"
            }
        }

        /// The CSS border style that draws the same line in the HTML legend.
        var borderStyle: String {
            switch self {
            case .solid: return "solid"
            case .dashed: return "dashed"
            case .dotted: return "dotted"
            }
        }
    }

    struct Series {
        /// Shown in the legend and as the line's tooltip; escaped when written.
        let name: String
        let colour: String
        let style: LineStyle
        /// One value per slot; nil where there is nothing to draw.
        let values: [Double?]
    }

    /// Says what the chart shows, for screen readers and as the figure's caption.
    let title: String
    let slots: Int
    /// Labels under the x axis, by slot.
    let xLabels: [(slot: Int, text: String)]
    /// How a y value is written on the axis.
    let yLabel: (Double) -> String
    let series: [Series]
    /// Shown inside an empty frame when no series has a value.
    let emptyMessage: String
    /// The top of the y axis at most (1 for shares), whatever the rounding of the largest value.
    var yCeiling: Double = .infinity

    // The drawing's own units; it is scaled to the width of its column (about 360 px on a phone,
    // 370-560 px on a laptop), so 13-unit text shows at 10-15 px.
    static let width = 480.0
    static let height = 250.0
    static let left = 58.0
    static let right = 10.0
    static let top = 10.0
    static let bottom = 26.0

    func render(into html: inout String) {
        let plotWidth = Self.width - Self.left - Self.right
        let plotHeight = Self.height - Self.top - Self.bottom
        let largest = series.lazy.flatMap { $0.values.lazy.compactMap { $0 } }.max()
        let yMax = min(Self.niceCeiling(largest ?? 0), yCeiling)
        func x(_ slot: Int) -> Double { Self.left + (slots > 1 ? Double(slot) * plotWidth / Double(slots - 1) : plotWidth / 2) }
        func y(_ value: Double) -> Double { Self.top + plotHeight - min(max(value / yMax, 0), 1) * plotHeight }
        func coordinate(_ value: Double) -> String { DisplayNumber.fixed(value, digits: 1) }

        html += "<svg class=\"chart\" viewBox=\"0 0 \(Int(Self.width)) \(Int(Self.height))\" role=\"img\" aria-label=\"\(HTMLText.escape(title))\" xmlns=\"http://www.w3.org/2000/svg\">"
        // Frame, horizontal grid lines with their values, and the minute labels.
        html += "<rect class=\"frame\" x=\"\(coordinate(Self.left))\" y=\"\(coordinate(Self.top))\" width=\"\(coordinate(plotWidth))\" height=\"\(coordinate(plotHeight))\"/>"
        for step in 0...4 {
            let value = yMax * Double(step) / 4
            let lineY = coordinate(y(value))
            if step > 0 && step < 4 {
                html += "<line class=\"grid\" x1=\"\(coordinate(Self.left))\" x2=\"\(coordinate(Self.left + plotWidth))\" y1=\"\(lineY)\" y2=\"\(lineY)\"/>"
            }
            html += "<text class=\"axis\" x=\"\(coordinate(Self.left - 6))\" y=\"\(lineY)\" text-anchor=\"end\" dominant-baseline=\"middle\">\(HTMLText.escape(yLabel(value)))</text>"
        }
        for label in xLabels {
            // The first and last labels align with the frame's edges so that neither is cut off.
            let anchor = label.slot == 0 ? "start" : label.slot == slots - 1 ? "end" : "middle"
            html += "<text class=\"axis\" x=\"\(coordinate(x(label.slot)))\" y=\"\(coordinate(Self.height - 7))\" text-anchor=\"\(anchor)\">\(HTMLText.escape(label.text))</text>"
        }
        guard largest != nil else {
            html += "<text class=\"empty\" x=\"\(coordinate(Self.left + plotWidth / 2))\" y=\"\(coordinate(Self.top + plotHeight / 2))\" text-anchor=\"middle\" dominant-baseline=\"middle\">\(HTMLText.escape(emptyMessage))</text></svg>"
            return
        }
        for line in series {
            // A path, not a polyline: a minute without predictions breaks the line instead of
            // joining its neighbours. A lone point (no neighbour either side) also gets a marker,
            // or a minute of traffic after a quiet spell would be a speck.
            var path = ""
            var markers = ""
            var points = 0
            var previous: Int?
            for (slot, value) in line.values.enumerated() {
                guard let value else { continue }
                let point = coordinate(x(slot)) + "," + coordinate(y(value))
                if previous == slot - 1 {
                    path += " L" + point
                } else {
                    path += (path.isEmpty ? "M" : " M") + point
                    let next = slot + 1 < line.values.count ? line.values[slot + 1] : nil
                    if next == nil {
                        path += " l0,0"
                        markers += "<circle class=\"point\" cx=\"\(coordinate(x(slot)))\" cy=\"\(coordinate(y(value)))\" r=\"3.5\" fill=\"\(line.colour)\"/>"
                    }
                }
                previous = slot
                points += 1
            }
            guard points > 0 else { continue }
            html += "<path class=\"series\" data-series=\"\(HTMLText.escape(line.name))\" data-points=\"\(points)\" d=\"\(path)\" stroke=\"\(line.colour)\""
            if let dash = line.style.dashArray { html += " stroke-dasharray=\"\(dash)\"" }
            html += "><title>\(HTMLText.escape(line.name))</title></path>" + markers
        }
        html += "</svg>"
    }

    /// The smallest 1, 2, 4 or 8 × 10ⁿ at or above `value` (1 for nothing): the axis has four
    /// steps, so its grid lines fall on round numbers, and a line uses at least half the height.
    static func niceCeiling(_ value: Double) -> Double {
        guard value > 0, value.isFinite else { return 1 }
        var magnitude = 1.0
        while magnitude * 10 <= value { magnitude *= 10 }
        while magnitude > value { magnitude /= 10 }
        for factor in [1.0, 2.0, 4.0, 8.0] where factor * magnitude >= value { return factor * magnitude }
        return 10 * magnitude
    }
}
