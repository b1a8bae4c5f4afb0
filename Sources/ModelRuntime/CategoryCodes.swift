/// The categories a model was trained on, for features that a request gives as the categories
/// themselves (a merchant category code such as 5411) while the trees split on each category's
/// position in the training data's list (pandas' category codes). Both libraries keep that list in
/// the artifact when they are trained on a DataFrame (XGBoost's `cats`, LightGBM's
/// `pandas_categorical`) and re-code a DataFrame through it before predicting; this does the same.
///
/// A value that is not in the list becomes missing, as pandas codes it (-1, read as NaN). That holds
/// for a list that is just 0, 1, ..., n-1 too: its values are their own codes, but 25, 3.7 or -1 is
/// no category of the DataFrame's, so missing, not a raw code that the library's rule for codes
/// would send down one side of every split (a model trained without a list reads codes as they are).
struct CategoryCodes: Sendable {
    /// How one feature's values become codes.
    private enum Coding: Sendable {
        /// The feature is read as it is.
        case none
        /// Categories 0, 1, ..., count-1: a value is its own code when it is one of them.
        case identity(count: Double)
        /// The code of each category.
        case table([Double: Double])
    }

    private let codings: [Coding]
    /// The positions that are re-coded.
    let features: [Int]

    /// Nil when no feature needs re-coding. `lists` maps a feature's position to its categories in
    /// code order; throws when one repeats a category.
    init?(lists: [Int: [Double]], featureCount: Int, featureNames: [String]) throws(ModelLoadError) {
        var codings = [Coding](repeating: .none, count: featureCount)
        for (feature, categories) in lists {
            var table: [Double: Double] = [:]
            for (code, category) in categories.enumerated() {
                guard category.isFinite, table.updateValue(Double(code), forKey: category) == nil else {
                    throw ModelLoadError.malformed("the categories stored for feature '\(featureNames[feature])' repeat \(category) or are not finite")
                }
            }
            // The same codes without a hash lookup a request.
            let identity = categories.enumerated().allSatisfy { Double($0.offset) == $0.element }
            codings[feature] = identity ? .identity(count: Double(categories.count)) : .table(table)
        }
        let features = codings.indices.filter { if case .none = codings[$0] { false } else { true } }
        guard !features.isEmpty else { return nil }
        self.codings = codings
        self.features = features
    }

    /// The value the trees read for `value` of feature `feature` (one that is re-coded).
    @inline(__always)
    func code(_ value: Double, feature: Int) -> Double {
        switch codings[feature] {
        case .none: value
        case .identity(let count): value >= 0 && value < count && value.rounded(.towardZero) == value ? value : .nan
        case .table(let table): value.isNaN ? .nan : table[value] ?? .nan
        }
    }
}
