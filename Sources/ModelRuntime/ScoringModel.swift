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
}

extension ScoringModel {
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


