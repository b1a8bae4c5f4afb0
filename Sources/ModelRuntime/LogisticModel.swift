/// A logistic regression in Sentinel's JSON form (documented in models/README.md):
///
///     {"format": "logistic", "features": [names], "coefficients": [..], "intercept": x,
///      "scaler": {"mean": [..], "scale": [..]}, "impute": [..]}
///
/// `scaler` and `impute` are optional. The score is `1 / (1 + exp(-(intercept + Σ cᵢ·zᵢ)))` with
/// `zᵢ = (xᵢ - meanᵢ) / scaleᵢ`, where a missing `xᵢ` is first replaced by `imputeᵢ`, exactly as a
/// scikit-learn SimpleImputer → StandardScaler → LogisticRegression pipeline computes it.
public struct LogisticModel: ScoringModel {
    public let format = ModelFormat.logistic
    public let featureNames: [String]
    public let objective = "logistic"
    public let output = ModelOutput.probability
    public var acceptsMissingValues: Bool { impute != nil }
    public let treeCount = 0
    public var memoryFootprint: Int { (coefficients.count + mean.count + scale.count + (impute?.count ?? 0)) * 8 }

    let coefficients: [Double]
    let intercept: Double
    let mean: [Double]
    let scale: [Double]
    let impute: [Double]?

    init(json bytes: [UInt8]) throws(ModelLoadError) {
        let root = try JSONNode.parse(bytes, what: "logistic model")
        let format = try root.member("format").string()
        guard format == "logistic" else { throw ModelLoadError.unsupported("format '\(format)' (expected \"logistic\")") }
        let names = try root.member("features").strings()
        guard !names.isEmpty else { throw ModelLoadError.malformed("features is empty") }
        guard Set(names).count == names.count else { throw ModelLoadError.malformed("features repeats a name") }
        let count = names.count

        func vector(_ node: JSONNode) throws(ModelLoadError) -> [Double] {
            let values = try node.doubles()
            guard values.count == count else {
                throw ModelLoadError.malformed("\(node.path) has \(values.count) values for \(count) features")
            }
            if let bad = values.firstIndex(where: { !$0.isFinite }) {
                throw ModelLoadError.invalidValue("\(node.path)[\(bad)] is not finite")
            }
            return values
        }

        self.featureNames = names
        self.coefficients = try vector(root.member("coefficients"))
        let intercept = try root.member("intercept").double()
        guard intercept.isFinite else { throw ModelLoadError.invalidValue("intercept is not finite") }
        self.intercept = intercept
        if let scaler = root.optionalMember("scaler") {
            self.mean = try vector(scaler.member("mean"))
            let scale = try vector(scaler.member("scale"))
            if let zero = scale.firstIndex(of: 0) {
                throw ModelLoadError.invalidValue("scaler.scale[\(zero)] is zero")
            }
            self.scale = scale
        } else {
            self.mean = [Double](repeating: 0, count: count)
            self.scale = [Double](repeating: 1, count: count)
        }
        self.impute = try root.optionalMember("impute").map { node throws(ModelLoadError) in try vector(node) }
    }

    public func score(_ row: UnsafeBufferPointer<Double>) -> Double {
        var margin = intercept
        for i in 0..<coefficients.count { margin += term(i, row) }
        return 1.0 / (1.0 + exp(-margin))
    }

    public func overflowingFeature(in row: UnsafeBufferPointer<Double>) -> Int? {
        (0..<coefficients.count).first { !term($0, row).isFinite }
    }

    /// Feature `i`'s share of the margin, `cᵢ·zᵢ`, its imputed value standing in for a missing one.
    @inline(__always)
    private func term(_ i: Int, _ row: UnsafeBufferPointer<Double>) -> Double {
        var x = row[i]
        if x.isNaN, let impute { x = impute[i] }
        return coefficients[i] * ((x - mean[i]) / scale[i])
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
