import Foundation

/// Rows with the training library's own score for each: the proof that a loaded model scores as
/// the data scientist's notebook did. Stored as JSON lines `{"features": {...}, "score": p}`.
public struct GoldenSet: Sendable {
    public struct Row: Sendable {
        public let features: [String: Double?]
        public let score: Double
    }

    /// The largest difference from the library's score that still counts as the same score.
    public static let tolerance = 1e-6

    public let rows: [Row]

    public init(rows: [Row]) { self.rows = rows }

    /// Parses JSON lines; blank lines are skipped. Throws `GoldenError.unreadable` naming the line.
    /// Lines may end in "\r\n" (a file saved on Windows): Swift reads that as one Character, which a
    /// split on "\n" alone never cuts.
    public init(jsonLines text: String) throws(GoldenError) {
        var rows: [Row] = []
        for (offset, line) in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated() {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty { continue }
            let lineNumber = offset + 1
            let object: [String: JSONValue]
            do throws(JSONObjectError) { object = try JSONValue.object(trimmed.utf8) } catch {
                throw GoldenError.unreadable("line \(lineNumber) \(error)")
            }
            guard let score = object["score"]?.numberValue, score.isFinite else {
                throw GoldenError.unreadable("line \(lineNumber) has no numeric \"score\"")
            }
            guard let rawFeatures = object["features"]?.objectValue else {
                throw GoldenError.unreadable("line \(lineNumber) has no \"features\" object")
            }
            let features: [String: Double?]
            do {
                features = try FeatureValues.read(rawFeatures)
            } catch {
                throw GoldenError.unreadable("line \(lineNumber): \(error)")
            }
            rows.append(Row(features: features, score: score))
        }
        guard !rows.isEmpty else { throw GoldenError.unreadable("no rows") }
        self.rows = rows
    }

    /// The same rows as JSON lines, for storing beside the version.
    public func jsonLines() -> String {
        rows.map { row in
            let features = row.features.keys.sorted().map { name -> String in
                let value = row.features[name]!.map { "\($0)" } ?? "null"
                return JSONText.quoted(name) + ":" + value
            }.joined(separator: ",")
            return "{\"features\":{\(features)},\"score\":\(row.score)}"
        }.joined(separator: "\n") + "\n"
    }

    /// Scores every row with `model`; returns the largest absolute difference from the stored scores.
    /// Throws `GoldenError.mismatch` for the first row off by more than `tolerance`.
    @discardableResult
    public func verify(_ model: any ScoringModel) throws(GoldenError) -> Double {
        let builder = FeatureRowBuilder(model: model)
        var largest = 0.0
        for (index, row) in rows.enumerated() {
            let input: [Double]
            do {
                input = try builder.row(from: row.features)
            } catch {
                throw GoldenError.unreadable("row \(index + 1): \(error)")
            }
            let score = model.score(input)
            let difference = abs(score - row.score)
            guard difference <= Self.tolerance else {
                throw GoldenError.mismatch(row: index + 1, expected: row.score, actual: score)
            }
            largest = max(largest, difference)
        }
        return largest
    }
}

public enum GoldenError: Error, CustomStringConvertible, Equatable, Sendable {
    case unreadable(String)
    case mismatch(row: Int, expected: Double, actual: Double)

    public var description: String {
        switch self {
        case .unreadable(let detail): return "golden rows unusable: \(detail)"
        case .mismatch(let row, let expected, let actual):
            return "golden row \(row): scored \(actual), the training library said \(expected) (tolerance \(GoldenSet.tolerance))"
        }
    }
}
