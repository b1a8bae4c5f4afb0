/// An XGBoost `gbtree` model read from the JSON that `Booster.save_model` writes (XGBoost 2.x, 3.x),
/// evaluated the way XGBoost's CPU predictor does: features as 32-bit floats, `x < split` goes left,
/// a missing value follows `default_left`, leaf values summed in 32-bit floats onto the base margin,
/// and the objective's transform applied last.
public struct XGBoostModel: ScoringModel {
    /// One node, laid out flat for a cache-friendly walk. A leaf has `feature == -1` and its value
    /// in `threshold`.
    struct Node {
        var threshold: Float
        var feature: Int32
        var left: Int32
        var right: Int32
        /// For a categorical split, the first word of its category bitset in `categoryWords`; else -1.
        var categoryOffset: Int32
        var categoryWordCount: Int32
        var defaultLeft: Bool
    }

    public let format = ModelFormat.xgboostJSON
    public let featureNames: [String]
    public let objective: String
    public let output: ModelOutput
    public let acceptsMissingValues = true
    public var treeCount: Int { roots.count }
    public var memoryFootprint: Int {
        nodes.count * MemoryLayout<Node>.stride + roots.count * 4 + categoryWords.count * 4
    }

    let nodes: [Node]
    let roots: [Int32]
    let categoryWords: [UInt32]
    /// The base score turned into margin space, as XGBoost does when it loads the model.
    let baseMargin: Float

    static let supportedObjectives: [String: ModelOutput] = [
        "binary:logistic": .probability,
        "reg:logistic": .probability,
        "binary:logitraw": .raw,
        "reg:squarederror": .raw,
    ]

    init(json bytes: [UInt8]) throws(ModelLoadError) {
        let root = try JSONNode.parse(bytes, what: "XGBoost model")
        let learner = try root.member("learner")

        let booster = try learner.member("gradient_booster")
        let boosterName = try booster.member("name").string()
        guard boosterName == "gbtree" else {
            throw ModelLoadError.unsupported("booster '\(boosterName)' (learner.gradient_booster.name); only gbtree is scored exactly")
        }
        let objectiveName = try learner.member("objective").member("name").string()
        guard let output = Self.supportedObjectives[objectiveName] else {
            throw ModelLoadError.unsupported("objective '\(objectiveName)' (learner.objective.name); supported: \(Self.supportedObjectives.keys.sorted().joined(separator: ", "))")
        }
        self.objective = objectiveName
        self.output = output

        let params = try learner.member("learner_model_param")
        let numFeature = Int(try params.member("num_feature").numberOrNumericString())
        if let numClass = params.optionalMember("num_class"), try numClass.numberOrNumericString() > 1 {
            throw ModelLoadError.unsupported("multiclass model (learner_model_param.num_class = \(try numClass.numberOrNumericString()))")
        }
        if let numTarget = params.optionalMember("num_target"), try numTarget.numberOrNumericString() > 1 {
            throw ModelLoadError.unsupported("multi-target model (learner_model_param.num_target = \(try numTarget.numberOrNumericString()))")
        }
        let baseScore = try Self.baseScore(params.member("base_score"))
        self.baseMargin = try Self.margin(fromBaseScore: baseScore, objective: objectiveName)

        guard let names = learner.optionalMember("feature_names"), case let featureNames = try names.strings(), !featureNames.isEmpty else {
            throw ModelLoadError.missingField("learner.feature_names (train with named features so requests can name them)")
        }
        guard featureNames.count == numFeature else {
            throw ModelLoadError.malformed("learner.feature_names has \(featureNames.count) names but num_feature is \(numFeature)")
        }
        guard Set(featureNames).count == featureNames.count else {
            throw ModelLoadError.malformed("learner.feature_names repeats a name")
        }
        self.featureNames = featureNames

        let model = try booster.member("model")
        // XGBoost 3 saves a DART booster under the name gbtree with per-tree weights in weight_drop.
        if model.optionalMember("weight_drop") != nil {
            throw ModelLoadError.unsupported("dart booster (learner.gradient_booster.model.weight_drop); only plain gbtree is scored exactly")
        }
        let trees = try model.member("trees").array()
        guard !trees.isEmpty else { throw ModelLoadError.malformed("learner.gradient_booster.model.trees is empty") }
        if let info = model.optionalMember("tree_info"), try info.ints().contains(where: { $0 != 0 }) {
            throw ModelLoadError.unsupported("trees for more than one output group (tree_info)")
        }

        var nodes: [Node] = []
        var roots: [Int32] = []
        var words: [UInt32] = []
        for (treeIndex, tree) in trees.enumerated() {
            roots.append(Int32(nodes.count))
            try Self.appendTree(tree, index: treeIndex, featureCount: numFeature, to: &nodes, categoryWords: &words)
        }
        self.nodes = nodes
        self.roots = roots
        self.categoryWords = words
    }

    /// XGBoost 2.x writes `"5E-1"`, 3.x writes `"[5E-1]"` (a vector with one entry per target).
    static func baseScore(_ node: JSONNode) throws(ModelLoadError) -> Float {
        let text = try node.string().trimming("[] ")
        let parts = text.split(separator: ",")
        guard parts.count == 1, let value = Float(String(parts[0]).trimming(" ")), value.isFinite else {
            throw ModelLoadError.invalidValue("learner.learner_model_param.base_score '\(text)' is not one finite number")
        }
        return value
    }

    /// For logistic objectives the stored base score is a probability; XGBoost turns it into a margin
    /// with `-log(1/p - 1)` in single precision before adding trees.
    static func margin(fromBaseScore score: Float, objective: String) throws(ModelLoadError) -> Float {
        guard objective == "binary:logistic" || objective == "reg:logistic" else { return score }
        guard score > 0 && score < 1 else {
            throw ModelLoadError.invalidValue("base_score \(score) must be strictly between 0 and 1 for \(objective)")
        }
        return -logf(1.0 / score - 1.0)
    }

    private static func appendTree(_ tree: JSONNode, index treeIndex: Int, featureCount: Int, to nodes: inout [Node], categoryWords: inout [UInt32]) throws(ModelLoadError) {
        if let param = tree.optionalMember("tree_param"), let leafVector = param.optionalMember("size_leaf_vector"),
           try leafVector.numberOrNumericString() > 1 {
            throw ModelLoadError.unsupported("tree \(treeIndex) has vector leaves (multi-target trees)")
        }
        let left = try tree.member("left_children").ints()
        let right = try tree.member("right_children").ints()
        let features = try tree.member("split_indices").ints()
        let conditions = try tree.member("split_conditions").doubles()
        let defaultLeft = try tree.member("default_left").ints()
        let splitType = try tree.optionalMember("split_type")?.ints() ?? [Int](repeating: 0, count: left.count)
        let count = left.count
        guard [right.count, features.count, conditions.count, defaultLeft.count, splitType.count].allSatisfy({ $0 == count }) else {
            throw ModelLoadError.invalidTree(tree: treeIndex, reason: "node arrays have different lengths")
        }
        try TreeShape.validate(tree: treeIndex, nodeCount: count) { node in
            left[node] == -1 ? nil : (left[node], right[node])
        }

        // Categorical splits: categories_nodes[i] lists a node, and its categories are
        // categories[segments[i] ..< segments[i] + sizes[i]].
        var categorySets: [Int: [Int]] = [:]
        if splitType.contains(1) {
            let catNodes = try tree.member("categories_nodes").ints()
            let segments = try tree.member("categories_segments").ints()
            let sizes = try tree.member("categories_sizes").ints()
            let categories = try tree.member("categories").ints()
            guard catNodes.count == segments.count, catNodes.count == sizes.count else {
                throw ModelLoadError.invalidTree(tree: treeIndex, reason: "categories_nodes, categories_segments and categories_sizes differ in length")
            }
            for (i, node) in catNodes.enumerated() {
                let start = segments[i], size = sizes[i]
                guard start >= 0, size >= 0, start + size <= categories.count, node >= 0, node < count else {
                    throw ModelLoadError.invalidTree(tree: treeIndex, reason: "categorical split \(i) points outside categories")
                }
                let set = Array(categories[start..<(start + size)])
                guard set.allSatisfy({ $0 >= 0 && $0 < Self.maxCategory }) else {
                    throw ModelLoadError.invalidTree(tree: treeIndex, reason: "node \(node) has a category outside 0..<\(Self.maxCategory)")
                }
                categorySets[node] = set
            }
        }

        let base = Int32(nodes.count)
        for node in 0..<count {
            let isLeaf = left[node] == -1
            guard Float(conditions[node]).isFinite else {
                throw ModelLoadError.invalidTree(tree: treeIndex, reason: "node \(node) has a non-finite \(isLeaf ? "leaf value" : "split condition")")
            }
            if isLeaf {
                nodes.append(Node(threshold: Float(conditions[node]), feature: -1, left: -1, right: -1, categoryOffset: -1, categoryWordCount: 0, defaultLeft: false))
                continue
            }
            guard features[node] >= 0 && features[node] < featureCount else {
                throw ModelLoadError.invalidTree(tree: treeIndex, reason: "node \(node) splits on feature \(features[node]), the model has \(featureCount)")
            }
            var offset: Int32 = -1
            var wordCount: Int32 = 0
            switch splitType[node] {
            case 0:
                break
            case 1:
                guard let set = categorySets[node] else {
                    throw ModelLoadError.invalidTree(tree: treeIndex, reason: "node \(node) is a categorical split without categories")
                }
                let words = (set.max() ?? 0) / 32 + 1
                var bitset = [UInt32](repeating: 0, count: words)
                for category in set { bitset[category / 32] |= 1 << UInt32(category % 32) }
                offset = Int32(categoryWords.count)
                wordCount = Int32(words)
                categoryWords.append(contentsOf: bitset)
            default:
                throw ModelLoadError.unsupported("tree \(treeIndex) node \(node) has split_type \(splitType[node])")
            }
            nodes.append(Node(
                threshold: Float(conditions[node]), feature: Int32(features[node]),
                left: base + Int32(left[node]), right: base + Int32(right[node]),
                categoryOffset: offset, categoryWordCount: wordCount, defaultLeft: defaultLeft[node] != 0))
        }
    }

    /// XGBoost treats categories at or beyond 2^24 (the largest integer a float holds exactly) as invalid.
    static let maxCategory = 1 << 24

    public func score(_ row: UnsafeBufferPointer<Double>) -> Double {
        let margin = self.margin(row)
        switch output {
        case .probability:
            // XGBoost's logistic transform runs in single precision: 1 / (1 + expf(-x)), with expf
            // correctly rounded (the float nearest the exact exponential).
            let e = Float(exp(Double(-margin)))
            return Double(1.0 / (1.0 + e))
        case .raw:
            return Double(margin)
        }
    }

    /// The base margin plus every tree's leaf, in single precision as XGBoost adds them.
    func margin(_ row: UnsafeBufferPointer<Double>) -> Float {
        withUnsafeTemporaryAllocation(of: Float.self, capacity: row.count) { features in
            // XGBoost holds inputs as 32-bit floats; comparing in double would send values that
            // round across a split to the other side.
            for i in 0..<row.count { features[i] = Float(row[i]) }
            return nodes.withUnsafeBufferPointer { nodes in
                categoryWords.withUnsafeBufferPointer { words in
                    // Trees add onto the base margin one by one, each sum rounded to float, as
                    // XGBoost's predictor accumulates them.
                    var sum = baseMargin
                    for root in roots {
                        sum += Self.leafValue(from: Int(root), nodes: nodes, words: words, features: UnsafeBufferPointer(features))
                    }
                    return sum
                }
            }
        }
    }

    @inline(__always)
    static func leafValue(from root: Int, nodes: UnsafeBufferPointer<Node>, words: UnsafeBufferPointer<UInt32>, features: UnsafeBufferPointer<Float>) -> Float {
        var index = root
        while true {
            let node = nodes[index]
            if node.feature < 0 { return node.threshold }
            let value = features[Int(node.feature)]
            if value.isNaN {
                index = Int(node.defaultLeft ? node.left : node.right)
            } else if node.categoryOffset < 0 {
                index = Int(value < node.threshold ? node.left : node.right)
            } else {
                index = Int(goesLeft(category: value, node: node, words: words) ? node.left : node.right)
            }
        }
    }

    /// XGBoost's categorical decision: a category in the node's set goes right; everything else,
    /// including negative or too-large categories, goes left.
    @inline(__always)
    static func goesLeft(category value: Float, node: Node, words: UnsafeBufferPointer<UInt32>) -> Bool {
        guard value >= 0, value < Float(maxCategory) else { return true }
        let category = Int(value)
        let word = category / 32
        guard word < Int(node.categoryWordCount) else { return true }
        return words[Int(node.categoryOffset) + word] & (1 << UInt32(category % 32)) == 0
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension String {
    func trimming(_ set: String) -> String {
        var scalars = Substring(self)
        while let first = scalars.first, set.contains(first) { scalars.removeFirst() }
        while let last = scalars.last, set.contains(last) { scalars.removeLast() }
        return String(scalars)
    }
}
