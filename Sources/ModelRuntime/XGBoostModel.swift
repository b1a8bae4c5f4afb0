/// An XGBoost `gbtree` model read from the JSON that `Booster.save_model` writes (XGBoost 2.x, 3.x),
/// evaluated the way XGBoost's CPU predictor does: features as 32-bit floats, `x < split` goes left,
/// a missing value follows `default_left`, leaf values summed in 32-bit floats onto the base margin,
/// and the objective's transform applied last.
public struct XGBoostModel: ScoringModel {
    /// One node in 16 bytes, so that a 200-tree model's nodes fit in a core's L2 cache. Nodes are laid
    /// out breadth-first per tree, so a split's right child is always `left + 1`.
    ///
    /// A numeric split reads the row's value from the column of the row's decision table that
    /// matches its `default_left` (see `DecisionColumn`), so every numeric step is one compare. A leaf
    /// is built so that the branchless step leaves it where it is: its threshold is +inf and it reads
    /// the table's always-zero last entry, so `x < threshold` holds and it "goes left" to itself.
    struct Node {
        var threshold: Float
        /// Decision-table entry in the low 24 bits, and the flags below.
        var meta: UInt32
        /// Index of the left child (the right child follows it); a leaf's own index.
        var left: UInt32
        /// A leaf's value; for a categorical split, the index of its category set (bit pattern).
        var payload: Float

        static let leafFlag: UInt32 = 1 << 31
        static let defaultLeftFlag: UInt32 = 1 << 30
        static let categoricalFlag: UInt32 = 1 << 29
        static let slotMask: UInt32 = (1 << 24) - 1

        var isLeaf: Bool { meta & Self.leafFlag != 0 }
        var isCategorical: Bool { meta & Self.categoricalFlag != 0 }

        static func leaf(_ value: Float, at index: Int, featureCount: Int) -> Node {
            Node(threshold: .infinity, meta: leafFlag | UInt32(DecisionColumn.sentinelSlot(featureCount: featureCount)),
                 left: UInt32(index), payload: value)
        }
    }

    /// The columns of a row's decision table: the row's values as 32-bit floats, once as they are
    /// (a NaN fails every `x < split`, so it goes right) and once with NaN as -inf (below every split,
    /// so it goes left), then one 0 that every leaf reads.
    enum DecisionColumn: Int {
        case missingGoesRight, missingGoesLeft

        static func slot(feature: Int, defaultLeft: Bool, featureCount: Int) -> Int {
            (defaultLeft ? missingGoesLeft : missingGoesRight).rawValue * featureCount + feature
        }

        static func sentinelSlot(featureCount: Int) -> Int { 2 * featureCount }
    }

    /// Where a categorical split's category bitset lies in `categoryWords`.
    struct CategorySet {
        var offset: Int32
        var wordCount: Int32
    }

    public let format = ModelFormat.xgboostJSON
    public let featureNames: [String]
    public let objective: String
    public let output: ModelOutput
    public let acceptsMissingValues = true
    public var memoryFootprint: Int {
        nodes.count * MemoryLayout<Node>.stride + groups.count * MemoryLayout<TreeGroup>.stride + categoryWords.count * 4
            + categorySets.count * MemoryLayout<CategorySet>.stride
    }

    let nodes: [Node]
    let groups: [TreeGroup]
    public let treeCount: Int
    let categorySets: [CategorySet]
    let categoryWords: [UInt32]
    /// The base score turned into margin space, as XGBoost does when it loads the model.
    let baseMargin: Float
    /// Categories a request gives by value, re-coded as XGBoost re-codes a DataFrame (nil: none).
    let categoryCodes: CategoryCodes?

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
        // Checked before Int(): "nan" or 1e300 would trap the conversion instead of being refused.
        let numFeatureValue = try params.member("num_feature").numberOrNumericString()
        guard numFeatureValue.rounded() == numFeatureValue, numFeatureValue >= 0, numFeatureValue < Double(Node.slotMask) else {
            throw ModelLoadError.invalidValue("learner_model_param.num_feature is \(numFeatureValue), not a feature count")
        }
        let numFeature = Int(numFeatureValue)
        if let numClass = try params.optionalMember("num_class")?.numberOrNumericString(), !(numClass <= 1) {
            throw ModelLoadError.unsupported("multiclass model (learner_model_param.num_class = \(numClass))")
        }
        if let numTarget = try params.optionalMember("num_target")?.numberOrNumericString(), !(numTarget <= 1) {
            throw ModelLoadError.unsupported("multi-target model (learner_model_param.num_target = \(numTarget))")
        }
        let baseScore = try Self.baseScore(params.member("base_score"))
        // The saver's version matters to logistic objectives only: read it for them alone.
        let clamped = output == .probability ? try Self.clampsBaseScore(version: root.optionalMember("version")) : false
        self.baseMargin = try Self.margin(fromBaseScore: baseScore, objective: objectiveName, clamped: clamped)

        guard let names = learner.optionalMember("feature_names"), case let featureNames = try names.strings(), !featureNames.isEmpty else {
            throw ModelLoadError.missingField("learner.feature_names (train with named features so requests can name them)")
        }
        guard featureNames.count == numFeature else {
            throw ModelLoadError.malformed("learner.feature_names has \(featureNames.count) names but num_feature is \(numFeature)")
        }
        guard Set(featureNames).count == featureNames.count else {
            throw ModelLoadError.malformed("learner.feature_names repeats a name")
        }
        guard DecisionColumn.sentinelSlot(featureCount: numFeature) <= Int(Node.slotMask) else {
            throw ModelLoadError.unsupported("\(numFeature) features (at most \(Int(Node.slotMask) / 2))")
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
        try Self.refuseEarlyStopped(learner: learner, model: model, treeCount: trees.count)

        var nodes: [Node] = []
        var roots: [UInt32] = []
        var depths: [Int] = []
        var sets: [CategorySet] = []
        var words: [UInt32] = []
        for (treeIndex, tree) in trees.enumerated() {
            roots.append(UInt32(nodes.count))
            depths.append(try Self.appendTree(tree, index: treeIndex, featureCount: numFeature, to: &nodes, categorySets: &sets, categoryWords: &words))
        }
        let padding = nodes.count
        nodes.append(Node.leaf(0, at: padding, featureCount: numFeature))
        self.nodes = nodes
        self.groups = TreeGroup.make(roots: roots, depths: depths, padding: UInt32(padding))
        self.treeCount = roots.count
        self.categorySets = sets
        self.categoryWords = words
        self.categoryCodes = try Self.categoryCodes(model.optionalMember("cats"), featureNames: featureNames)
    }

    /// An early-stopped model keeps every tree it grew and notes the best iteration: XGBoost's
    /// scikit-learn wrapper then predicts with the trees up to it, `Booster.predict` with all of
    /// them. The two disagree, so which one the team compared against cannot be told.
    static func refuseEarlyStopped(learner: JSONNode, model: JSONNode, treeCount: Int) throws(ModelLoadError) {
        guard let best = learner.optionalMember("attributes")?.optionalMember("best_iteration") else { return }
        let bestIteration = try best.numberOrNumericString()
        // Checked before Int() below: "-inf" or -1e19 would trap the conversion.
        guard bestIteration.isFinite, bestIteration >= 0, bestIteration.rounded() == bestIteration else {
            throw ModelLoadError.invalidValue("learner.attributes.best_iteration is \(bestIteration), not an iteration")
        }
        var iterations = treeCount
        if let pointers = model.optionalMember("iteration_indptr") { iterations = try pointers.ints().count - 1 }
        guard bestIteration + 1 < Double(iterations) else { return }
        throw ModelLoadError.unsupported("an early-stopped model (best_iteration \(Int(bestIteration)) of \(iterations) iterations): XGBoost's scikit-learn wrapper scores it with the first \(Int(bestIteration) + 1) and Booster.predict with all \(iterations); save only the trees meant, booster[: best_iteration + 1].save_model(...), and register that")
    }

    /// The categories of a model trained on a DataFrame (XGBoost 3 keeps them in
    /// `gradient_booster.model.cats.enc`, one entry per feature: numbers under `type` and `values`,
    /// text under `offsets` and `values`, both empty for a feature that is not categorical).
    static func categoryCodes(_ cats: JSONNode?, featureNames: [String]) throws(ModelLoadError) -> CategoryCodes? {
        guard let encodings = try cats?.optionalMember("enc")?.array(), !encodings.isEmpty else { return nil }
        guard encodings.count == featureNames.count else {
            throw ModelLoadError.malformed("learner.gradient_booster.model.cats.enc has \(encodings.count) entries for \(featureNames.count) features")
        }
        var lists: [Int: [Double]] = [:]
        for (feature, encoding) in encodings.enumerated() {
            if encoding.optionalMember("offsets") != nil {
                guard try encoding.member("values").array().isEmpty else {
                    throw ModelLoadError.unsupported("feature '\(featureNames[feature])' was trained on text categories; requests give numbers, so train it on numeric categories")
                }
                continue
            }
            let values = try encoding.member("values").doubles()
            if !values.isEmpty { lists[feature] = values }
        }
        return try CategoryCodes(lists: lists, featureCount: featureNames.count, featureNames: featureNames)
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
    /// with `-logf(1/p - 1)` in single precision before adding trees. From 3.2 on it first clamps p
    /// to [1e-6, 1 - 1e-6] (and so takes 0 and 1, which labels that are all one class give); before,
    /// 0 and 1 were refused and nothing was clamped.
    static func margin(fromBaseScore score: Float, objective: String, clamped: Bool) throws(ModelLoadError) -> Float {
        guard objective == "binary:logistic" || objective == "reg:logistic" else { return score }
        guard clamped ? score >= 0 && score <= 1 : score > 0 && score < 1 else {
            throw ModelLoadError.invalidValue("base_score \(score) must be \(clamped ? "" : "strictly ")between 0 and 1 for \(objective)")
        }
        let p = clamped ? min(max(score, Float(1e-6)), Float(1) - Float(1e-6)) : score
        return -logf(1.0 / p - 1.0)
    }

    /// Whether the XGBoost that saved the file (its top-level `"version": [major, minor, patch]`)
    /// clamps a logistic base score: 3.2 and later do. A file without a version is read as older.
    /// (XGBoost 3.2+ clamps when it loads, so it scores an older file whose base score is below
    /// 1e-6 otherwise than the version that saved it; the golden rows say which one was meant.)
    static func clampsBaseScore(version: JSONNode?) throws(ModelLoadError) -> Bool {
        guard let version else { return false }
        let parts = try version.ints()
        guard parts.count >= 2 else { throw ModelLoadError.invalidValue("version \(parts) is not [major, minor, patch]") }
        return (parts[0], parts[1]) >= (3, 2)
    }

    private static func appendTree(_ tree: JSONNode, index treeIndex: Int, featureCount: Int, to nodes: inout [Node],
                                   categorySets: inout [CategorySet], categoryWords: inout [UInt32]) throws(ModelLoadError) -> Int {
        if let param = tree.optionalMember("tree_param"), let leafVector = param.optionalMember("size_leaf_vector"),
           try !(leafVector.numberOrNumericString() <= 1) {
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
        // Splits pruned after growing (tree_method exact with gamma) stay in the arrays, unreachable,
        // marked deleted: XGBoost's SplitIndex() of a deleted node is 2^31 - 1 and it has no children.
        let deleted = try tree.optionalMember("tree_param")?.optionalMember("num_deleted")?.numberOrNumericString() ?? 0
        try TreeShape.validate(tree: treeIndex, nodeCount: count,
                               unreachable: (count: deleted, allowed: { left[$0] == -1 && right[$0] == -1 && features[$0] == Self.deletedSplitIndex })) { node in
            left[node] == -1 ? nil : (left[node], right[node])
        }

        // Categorical splits: categories_nodes[i] lists a node, and its categories are
        // categories[segments[i] ..< segments[i] + sizes[i]]. XGBoost writes the nodes in increasing
        // order and their segments one after the other, covering `categories`; holding a file to that
        // bounds the work by its size (segments that overlap, or a node listed again and again, had a
        // few megabytes of JSON copy the same categories millions of times).
        var categoriesByNode: [Int: [Int]] = [:]
        if splitType.contains(1) {
            let catNodes = try tree.member("categories_nodes").ints()
            let segments = try tree.member("categories_segments").ints()
            let sizes = try tree.member("categories_sizes").ints()
            let categories = try tree.member("categories").ints()
            guard catNodes.count == segments.count, catNodes.count == sizes.count else {
                throw ModelLoadError.invalidTree(tree: treeIndex, reason: "categories_nodes, categories_segments and categories_sizes differ in length")
            }
            var segmentEnd = 0
            for (i, node) in catNodes.enumerated() {
                let start = segments[i], size = sizes[i]
                guard start >= 0, size >= 0, size <= categories.count - min(start, categories.count), node >= 0, node < count else {
                    throw ModelLoadError.invalidTree(tree: treeIndex, reason: "categorical split \(i) points outside categories")
                }
                // XGBoost's loader refuses an empty set (CHECK_GT of its size); scored, every value
                // would go one way.
                guard size > 0 else {
                    throw ModelLoadError.invalidTree(tree: treeIndex, reason: "categorical split \(i) has no categories")
                }
                guard start == segmentEnd, i == 0 || node > catNodes[i - 1] else {
                    throw ModelLoadError.invalidTree(tree: treeIndex, reason: "categorical split \(i) is out of order or overlaps another")
                }
                guard splitType[node] == 1 else {
                    throw ModelLoadError.invalidTree(tree: treeIndex, reason: "categories_nodes names node \(node), which is not a categorical split")
                }
                segmentEnd = start + size
                let set = Array(categories[start..<(start + size)])
                guard set.allSatisfy({ $0 >= 0 && $0 < Self.maxCategory }) else {
                    throw ModelLoadError.invalidTree(tree: treeIndex, reason: "node \(node) has a category outside 0..<\(Self.maxCategory)")
                }
                categoriesByNode[node] = set
            }
            guard segmentEnd == categories.count else {
                throw ModelLoadError.invalidTree(tree: treeIndex, reason: "categories holds \(categories.count - segmentEnd) entries no categorical split names")
            }
        }

        let order = TreeShape.breadthFirstOrder(nodeCount: count) { node in left[node] == -1 ? nil : (left[node], right[node]) }
        var position = [Int](repeating: 0, count: count)
        for (newIndex, node) in order.enumerated() { position[node] = newIndex }
        let base = nodes.count
        var depth = [Int](repeating: 0, count: count)
        for node in order {
            let isLeaf = left[node] == -1
            guard Float(conditions[node]).isFinite else {
                throw ModelLoadError.invalidTree(tree: treeIndex, reason: "node \(node) has a non-finite \(isLeaf ? "leaf value" : "split condition")")
            }
            if isLeaf {
                nodes.append(Node.leaf(Float(conditions[node]), at: nodes.count, featureCount: featureCount))
                continue
            }
            depth[left[node]] = depth[node] + 1
            depth[right[node]] = depth[node] + 1
            guard features[node] >= 0 && features[node] < featureCount else {
                throw ModelLoadError.invalidTree(tree: treeIndex, reason: "node \(node) splits on feature \(features[node]), the model has \(featureCount)")
            }
            var meta = UInt32(DecisionColumn.slot(feature: features[node], defaultLeft: defaultLeft[node] != 0, featureCount: featureCount))
            if defaultLeft[node] != 0 { meta |= Node.defaultLeftFlag }
            var threshold = Float(conditions[node])
            var payload: Float = 0
            switch splitType[node] {
            case 0:
                break
            case 1:
                guard let set = categoriesByNode[node] else {
                    throw ModelLoadError.invalidTree(tree: treeIndex, reason: "node \(node) is a categorical split without categories")
                }
                let wordCount = (set.max() ?? 0) / 32 + 1
                try CategoryBitsets.checkRoom(held: categoryWords.count, adding: wordCount, tree: treeIndex)
                var bitset = [UInt32](repeating: 0, count: wordCount)
                for category in set { bitset[category / 32] |= 1 << UInt32(category % 32) }
                // A categorical split reads the value itself and applies default_left on its own.
                meta = UInt32(features[node]) | (meta & Node.defaultLeftFlag) | Node.categoricalFlag
                threshold = 0
                payload = Float(bitPattern: UInt32(categorySets.count))
                categorySets.append(CategorySet(offset: Int32(categoryWords.count), wordCount: Int32(wordCount)))
                categoryWords.append(contentsOf: bitset)
            default:
                throw ModelLoadError.unsupported("tree \(treeIndex) node \(node) has split_type \(splitType[node])")
            }
            // Breadth-first order puts the right child straight after the left one.
            assert(position[right[node]] == position[left[node]] + 1)
            nodes.append(Node(threshold: threshold, meta: meta, left: UInt32(base + position[left[node]]), payload: payload))
        }
        return depth.max() ?? 0
    }

    /// The split index XGBoost saves for a deleted node (its all-ones index, less the default-left bit).
    static let deletedSplitIndex = Int(Int32.max)

    /// XGBoost treats categories at or beyond 2^24 (the largest integer a float holds exactly) as invalid.
    static let maxCategory = 1 << 24

    public func score(_ row: UnsafeBufferPointer<Double>) -> Double {
        transform(margin(row))
    }

    @inline(__always)
    func transform(_ margin: Float) -> Double {
        switch output {
        case .probability:
            // XGBoost's own single-precision sigmoid (common::Sigmoid), libm's expf included: an
            // exponential rounded otherwise differs from XGBoost's by an ulp for some margins.
            let e = expf(min(-margin, 88.7))
            return Double(1.0 / (e + 1.0 + 1e-16))
        case .raw:
            return Double(margin)
        }
    }

    /// The base margin plus every tree's leaf, in single precision as XGBoost adds them.
    func margin(_ row: UnsafeBufferPointer<Double>) -> Float {
        let width = row.count
        return withUnsafeTemporaryAllocation(of: Float.self, capacity: DecisionColumn.sentinelSlot(featureCount: width) + 1) { table in
            // XGBoost holds inputs as 32-bit floats; comparing in double would send values that
            // round across a split to the other side.
            for i in 0..<width {
                let x = Float(row[i])
                table[DecisionColumn.missingGoesRight.rawValue * width + i] = x
                table[DecisionColumn.missingGoesLeft.rawValue * width + i] = x.isNaN ? -.infinity : x
            }
            if let categoryCodes {
                for i in categoryCodes.features {
                    let x = Float(categoryCodes.code(row[i], feature: i))
                    table[DecisionColumn.missingGoesRight.rawValue * width + i] = x
                    table[DecisionColumn.missingGoesLeft.rawValue * width + i] = x.isNaN ? -.infinity : x
                }
            }
            table[DecisionColumn.sentinelSlot(featureCount: width)] = 0
            let input = UnsafeBufferPointer(table)
            return nodes.withUnsafeBufferPointer { nodes in
                categorySets.withUnsafeBufferPointer { sets in
                    categoryWords.withUnsafeBufferPointer { words in
                        // One split step of one lane, branchless for numeric splits.
                        @inline(__always)
                        func step(_ index: UInt32) -> UInt32 {
                            let node = nodes[Int(index)]
                            let x = input[Int(node.meta & Node.slotMask)]
                            let goLeft: UInt32
                            if node.meta & Node.categoricalFlag != 0 {
                                goLeft = x.isNaN ? (node.meta >> 30) & 1
                                    : (Self.categoryGoesLeft(x, set: sets[Int(node.payload.bitPattern)], words: words) ? 1 : 0)
                            } else {
                                goLeft = x < node.threshold ? 1 : 0
                            }
                            return node.left &+ 1 &- goLeft
                        }
                        // Trees add onto the base margin one by one, in order, each sum rounded to
                        // float, as XGBoost's predictor accumulates them.
                        var sum = baseMargin
                        for group in groups {
                            group.walk(step) { sum += nodes[Int($0)].payload }
                        }
                        return sum
                    }
                }
            }
        }
    }

    /// XGBoost's categorical decision: a category in the node's set goes right; everything else,
    /// including negative or too-large categories, goes left.
    @inline(__always)
    static func categoryGoesLeft(_ value: Float, set: CategorySet, words: UnsafeBufferPointer<UInt32>) -> Bool {
        guard value >= 0, value < Float(maxCategory) else { return true }
        let category = Int(value)
        let word = category / 32
        guard word < Int(set.wordCount) else { return true }
        return words[Int(set.offset) + word] & (1 << UInt32(category % 32)) == 0
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
