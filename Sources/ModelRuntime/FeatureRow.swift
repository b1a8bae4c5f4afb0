/// Why a set of named features could not become a model's input row. Each names the feature.
public enum FeatureError: Error, CustomStringConvertible, Equatable, Sendable {
    case missing(String)
    case unknown(String)
    case notNumeric(String)
    case nullNotAccepted(String)
    /// A number beyond a double's range (about ±1.8e308), such as 1e400.
    case outOfRange(String)
    /// A number written with more than `FeatureError.maxNumberLength` characters (`1.000…`): the
    /// audit log keeps each number as it was written.
    case numberTooLong(String)

    /// Far more than any double needs (17 significant digits and an exponent), so that a request's
    /// audit rows hold about what its features are worth, not a megabyte of zeros.
    public static let maxNumberLength = 100

    public var description: String {
        switch self {
        case .missing(let name): return "feature '\(name)' is missing"
        case .unknown(let name): return "feature '\(name)' is not one the model reads"
        case .notNumeric(let name): return "feature '\(name)' is not a number or null"
        case .nullNotAccepted(let name): return "feature '\(name)' is null and this model cannot score missing values"
        case .outOfRange(let name): return "feature '\(name)' is a number too large for a double (beyond ±1.8e308)"
        case .numberTooLong(let name): return "feature '\(name)' is a number written with more than \(Self.maxNumberLength) characters"
        }
    }

    public var featureName: String {
        switch self {
        case .missing(let name), .unknown(let name), .notNumeric(let name), .nullNotAccepted(let name), .outOfRange(let name),
             .numberTooLong(let name):
            return name
        }
    }
}

/// Features by name from a parsed JSON object: numbers, or null for a missing value.
public enum FeatureValues {
    /// Throws `FeatureError.notNumeric` naming the first member that is neither.
    public static func read(_ object: [String: JSONValue]) throws(FeatureError) -> [String: Double?] {
        var features: [String: Double?] = [:]
        features.reserveCapacity(object.count)
        for (name, value) in object {
            switch value {
            case .null: features[name] = .some(nil)
            case .number(let number): features[name] = number
            default: throw FeatureError.notNumeric(name)
            }
        }
        return features
    }
}

/// Builds input rows from features given by name, strictly: every feature the model reads must be
/// present (null for missing), and no other may be.
public struct FeatureRowBuilder: Sendable {
    public let featureNames: [String]
    public let acceptsMissingValues: Bool
    private let positions: [String: Int]

    public init(model: any ScoringModel) {
        self.init(featureNames: model.featureNames, acceptsMissingValues: model.acceptsMissingValues)
    }

    public init(featureNames: [String], acceptsMissingValues: Bool) {
        self.featureNames = featureNames
        self.acceptsMissingValues = acceptsMissingValues
        self.positions = Dictionary(uniqueKeysWithValues: featureNames.enumerated().map { ($1, $0) })
    }

    public func position(of name: String) -> Int? { positions[name] }

    /// A row from `features`, where `nil` means the feature was given as null (missing).
    public func row(from features: [String: Double?]) throws(FeatureError) -> [Double] {
        var row = [Double](repeating: .nan, count: featureNames.count)
        for (name, value) in features {
            guard let index = positions[name] else { throw FeatureError.unknown(name) }
            if let value {
                // JSON numbers only: an infinity was a number too large for a double (1e400).
                guard !value.isInfinite else { throw FeatureError.outOfRange(name) }
                guard !value.isNaN else { throw FeatureError.notNumeric(name) }
                row[index] = value
            } else if !acceptsMissingValues {
                throw FeatureError.nullNotAccepted(name)
            }
        }
        if features.count < featureNames.count {
            for name in featureNames where features.index(forKey: name) == nil { throw FeatureError.missing(name) }
        }
        return row
    }
}
