/// The artifact formats Sentinel can score exactly.
public enum ModelFormat: String, CaseIterable, Sendable, Codable {
    /// XGBoost's JSON, as written by `Booster.save_model("model.json")` in XGBoost 2.x and 3.x.
    case xgboostJSON = "xgboost-json"
    /// LightGBM's text model, as written by `Booster.save_model("model.txt")`.
    case lightgbmText = "lightgbm-text"
    /// Sentinel's logistic-regression JSON (see models/README.md).
    case logistic = "logistic"
}

/// What a model's raw output means.
public enum ModelOutput: String, Sendable, Codable {
    /// A probability in [0, 1] (the sigmoid of the margin).
    case probability
    /// The margin or regression value itself.
    case raw
}

/// Parses artifacts into scoring models, checking them fully so that a model that loads is a model
/// that scores.
public enum ModelLoader {
    /// Parses `bytes` as an artifact of `format`.
    ///
    /// Throws `ModelLoadError` naming the problem for anything the evaluators cannot reproduce
    /// exactly: unsupported boosters, objectives or tree kinds, malformed or truncated files, trees
    /// whose children point outside the tree or form a cycle, and non-finite values.
    public static func load(_ format: ModelFormat, from bytes: [UInt8]) throws(ModelLoadError) -> any ScoringModel {
        guard !bytes.isEmpty else { throw ModelLoadError.malformed("the artifact is empty") }
        switch format {
        case .xgboostJSON: return try XGBoostModel(json: bytes)
        case .lightgbmText: return try LightGBMModel(text: bytes)
        case .logistic: return try LogisticModel(json: bytes)
        }
    }
}
