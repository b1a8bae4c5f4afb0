/// A loaded model that scores one row of features.
///
/// Rows are `Double`s in the order of `featureNames`; `Double.nan` means missing. Implementations are
/// immutable after loading, so one instance serves any number of concurrent requests.
public protocol ScoringModel: Sendable {
    var format: ModelFormat { get }
    /// The features the model reads, in order.
    var featureNames: [String] { get }
    /// The objective as the artifact names it (`binary:logistic`, `binary sigmoid:1`, `logistic`).
    var objective: String { get }
    var output: ModelOutput { get }
    /// Whether a missing value (NaN) can be scored; false means every feature is required.
    var acceptsMissingValues: Bool { get }
    /// Number of trees (0 for linear models).
    var treeCount: Int { get }
    /// Bytes held by the model's evaluation tables (not counting the artifact it came from).
    var memoryFootprint: Int { get }

    /// Scores one row. `row.count` must equal `featureNames.count`.
    func score(_ row: UnsafeBufferPointer<Double>) -> Double

    /// The position of the first feature of `row` whose value takes the model's arithmetic out of
    /// the range of doubles, for a row whose score is not a finite number; nil when there is none.
    /// Trees only compare values, so only models that compute with them implement it.
    func overflowingFeature(in row: UnsafeBufferPointer<Double>) -> Int?
}

/// A row the model computes no score for: a value so far outside what it was trained on that its
/// arithmetic overflows (`1e308` through a standard scaler), so the score would be NaN.
public struct UnscorableRow: Error, CustomStringConvertible, Equatable, Sendable {
    /// The feature at fault, when the model can tell.
    public let feature: String?

    public var description: String {
        guard let feature else { return "the model's arithmetic overflows on these features" }
        return "feature '\(feature)' is too far out of range for this model: its arithmetic overflows"
    }
}

extension ScoringModel {
    public func overflowingFeature(in row: UnsafeBufferPointer<Double>) -> Int? { nil }

    /// `score(row)`, or `UnscorableRow` when that is not a finite number (never recorded or answered).
    public func checkedScore(_ row: [Double]) throws(UnscorableRow) -> Double {
        let score = score(row)
        guard !score.isFinite else { return score }
        let position = row.withUnsafeBufferPointer { overflowingFeature(in: $0) }
        throw UnscorableRow(feature: position.map { featureNames[$0] })
    }

    /// Scores one row given as an array (a convenience for tests and tools; the service uses the
    /// buffer form).
    public func score(_ row: [Double]) -> Double {
        precondition(row.count == featureNames.count, "row has \(row.count) values, the model reads \(featureNames.count)")
        return row.withUnsafeBufferPointer { score($0) }
    }

    /// Scores `rowCount` rows laid out one after another in `rows`, writing one score each into `scores`.
    public func score(rows: UnsafeBufferPointer<Double>, rowCount: Int, into scores: UnsafeMutableBufferPointer<Double>) {
        let width = featureNames.count
        precondition(rows.count >= rowCount * width && scores.count >= rowCount)
        for index in 0..<rowCount {
            let row = UnsafeBufferPointer(rebasing: rows[(index * width)..<((index + 1) * width)])
            scores[index] = score(row)
        }
    }
}


