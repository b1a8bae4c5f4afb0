/// A LightGBM model read from the text that `Booster.save_model` writes, evaluated the way
/// LightGBM's predictor does: features and thresholds in double precision, `x <= threshold` goes
/// left, missing values handled per node by its `missing_type` (None, Zero, NaN) and `default_left`,
/// categorical splits by bitset, leaves summed in double, and the objective's transform last.
public struct LightGBMModel: ScoringModel {
    /// One node, leaves included, laid out breadth-first per tree so that a split's right child is
    /// always `left + 1`; a leaf carries `leafFlag` and its value in `payload`.
    struct Node {
        var threshold: Double
        /// A leaf's value; for a categorical split, the index of its category set.
        var payload: Double
        /// Feature index in the low 24 bits, the missing type in bits 27-28, and the flags below.
        var meta: UInt32
        /// Index of the left child (the right child follows it).
        var left: UInt32

        static let leafFlag: UInt32 = 1 << 31
        static let defaultLeftFlag: UInt32 = 1 << 30
        static let categoricalFlag: UInt32 = 1 << 29
        /// missing_type Zero sets bit 27, NaN sets bit 28.
        static let missingShift: UInt32 = 27
        static let featureMask: UInt32 = (1 << 24) - 1

        var isLeaf: Bool { meta & Self.leafFlag != 0 }
        var isCategorical: Bool { meta & Self.categoricalFlag != 0 }

        static func leaf(_ value: Double) -> Node {
            Node(threshold: .infinity, payload: value, meta: leafFlag, left: 0)
        }
    }

    /// Where a categorical split's bitset lies in `categoryWords`.
    struct CategorySet {
        var offset: Int32
        var wordCount: Int32
    }

    // decision_type bits, as LightGBM's tree.h defines them.
    static let categoricalMask: UInt8 = 1
    static let defaultLeftMask: UInt8 = 2
    static let missingNone: UInt8 = 0
    static let missingZero: UInt8 = 1
    static let missingNaN: UInt8 = 2
    /// LightGBM's kZeroThreshold: values this close to zero count as zero for missing_type Zero. It is
    /// the float literal 1e-35f, compared against doubles, so its exact value is Float(1e-35).
    static let zeroThreshold = Double(Float(1e-35))

    public let format = ModelFormat.lightgbmText
    public let featureNames: [String]
    public let objective: String
    public let output: ModelOutput
    public let acceptsMissingValues = true
    public var memoryFootprint: Int {
        nodes.count * MemoryLayout<Node>.stride + roots.count * 4 + categoryWords.count * 4
            + categorySets.count * MemoryLayout<CategorySet>.stride
    }

    let nodes: [Node]
    let roots: [UInt32]
    public let treeCount: Int
    let categorySets: [CategorySet]
    let categoryWords: [UInt32]
    let sigmoidScale: Double

    init(text bytes: [UInt8]) throws(ModelLoadError) {
        let text = String(decoding: bytes, as: UTF8.self)
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map { $0.hasSuffix("\r") ? $0.dropLast() : $0 }[...]
        guard lines.first == "tree" else {
            throw ModelLoadError.malformed("a LightGBM text model starts with the line 'tree'")
        }
        lines = lines.dropFirst()

        let header = Self.keyValues(takingFrom: &lines)
        func headerValue(_ key: String) throws(ModelLoadError) -> String {
            guard let value = header[key] else { throw ModelLoadError.missingField("header line '\(key)='") }
            return value
        }
        if let numClass = header["num_class"], numClass != "1" {
            throw ModelLoadError.unsupported("multiclass model (num_class=\(numClass))")
        }
        if let perIteration = header["num_tree_per_iteration"], perIteration != "1" {
            throw ModelLoadError.unsupported("\(perIteration) trees per iteration (multiclass)")
        }
        if header["average_output"] != nil {
            throw ModelLoadError.unsupported("average_output (random-forest mode)")
        }
        let objectiveLine = try headerValue("objective")
        let objectiveParts = objectiveLine.split(separator: " ")
        switch objectiveParts.first {
        case "binary":
            self.output = .probability
            let scale = objectiveParts.first(where: { $0.hasPrefix("sigmoid:") }).flatMap { Double($0.dropFirst("sigmoid:".count)) } ?? 1
            guard scale.isFinite, scale > 0 else { throw ModelLoadError.invalidValue("objective '\(objectiveLine)' has a bad sigmoid") }
            self.sigmoidScale = scale
        case "regression":
            self.output = .raw
            self.sigmoidScale = 1
        default:
            throw ModelLoadError.unsupported("objective '\(objectiveLine)'; supported: binary, regression")
        }
        self.objective = objectiveLine

        guard let maxFeature = Int(try headerValue("max_feature_idx")), maxFeature >= 0 else {
            throw ModelLoadError.malformed("max_feature_idx is not a non-negative integer")
        }
        let names = try headerValue("feature_names").split(separator: " ").map(String.init)
        guard names.count == maxFeature + 1 else {
            throw ModelLoadError.malformed("feature_names has \(names.count) names, max_feature_idx says \(maxFeature + 1)")
        }
        guard Set(names).count == names.count else { throw ModelLoadError.malformed("feature_names repeats a name") }
        self.featureNames = names

        var nodes: [Node] = []
        var roots: [UInt32] = []
        var sets: [CategorySet] = []
        var words: [UInt32] = []
        var sawEnd = false
        while let line = lines.first {
            if line.isEmpty { lines = lines.dropFirst(); continue }
            if line == "end of trees" { sawEnd = true; break }
            guard line.hasPrefix("Tree=") else {
                throw ModelLoadError.malformed("expected 'Tree=N' or 'end of trees', found '\(line.prefix(40))'")
            }
            lines = lines.dropFirst()
            let block = Self.keyValues(takingFrom: &lines)
            roots.append(UInt32(nodes.count))
            try Self.appendTree(block, index: roots.count - 1, featureCount: names.count, nodes: &nodes, categorySets: &sets, categoryWords: &words)
        }
        guard sawEnd else { throw ModelLoadError.malformed("no 'end of trees' line (truncated file)") }
        guard !roots.isEmpty else { throw ModelLoadError.malformed("the model has no trees") }
        if let sizes = header["tree_sizes"], sizes.split(separator: " ").count != roots.count {
            throw ModelLoadError.malformed("tree_sizes lists \(sizes.split(separator: " ").count) trees, the file has \(roots.count)")
        }
        self.nodes = nodes
        self.roots = roots
        self.treeCount = roots.count
        self.categorySets = sets
        self.categoryWords = words
    }

    /// Reads `key=value` lines up to the first blank line or a line that is not `key=value`.
    private static func keyValues(takingFrom lines: inout ArraySlice<Substring>) -> [String: String] {
        var result: [String: String] = [:]
        while let line = lines.first, !line.isEmpty, let equals = line.firstIndex(of: "=") {
            if line.hasPrefix("Tree=") && !result.isEmpty { break }
            result[String(line[..<equals])] = String(line[line.index(after: equals)...])
            lines = lines.dropFirst()
        }
        return result
    }

    private static func appendTree(_ block: [String: String], index treeIndex: Int, featureCount: Int, nodes: inout [Node],
                                   categorySets: inout [CategorySet], categoryWords: inout [UInt32]) throws(ModelLoadError) {
        func field(_ key: String) throws(ModelLoadError) -> String {
            guard let value = block[key] else { throw ModelLoadError.missingField("Tree=\(treeIndex) line '\(key)='") }
            return value
        }
        func numbers(_ key: String) throws(ModelLoadError) -> [Double] {
            var result: [Double] = []
            for token in try field(key).split(separator: " ") {
                guard let value = Double(token) else {
                    throw ModelLoadError.malformed("Tree=\(treeIndex) \(key) has '\(token)', not a number")
                }
                result.append(value)
            }
            return result
        }
        func integers(_ key: String) throws(ModelLoadError) -> [Int] {
            var result: [Int] = []
            for token in try field(key).split(separator: " ") {
                guard let value = Int(token) else {
                    throw ModelLoadError.malformed("Tree=\(treeIndex) \(key) has '\(token)', not an integer")
                }
                result.append(value)
            }
            return result
        }

        if let linear = block["is_linear"], linear != "0" {
            throw ModelLoadError.unsupported("Tree=\(treeIndex) is a linear tree (linear_tree=true)")
        }
        guard let leafCount = Int(try field("num_leaves")), leafCount >= 1 else {
            throw ModelLoadError.malformed("Tree=\(treeIndex) num_leaves is not a positive integer")
        }
        let leafValues = try numbers("leaf_value")
        guard leafValues.count == leafCount else {
            throw ModelLoadError.invalidTree(tree: treeIndex, reason: "has \(leafValues.count) leaf values for \(leafCount) leaves")
        }
        guard leafValues.allSatisfy(\.isFinite) else {
            throw ModelLoadError.invalidTree(tree: treeIndex, reason: "has a non-finite leaf value")
        }
        guard leafCount > 1 else {
            nodes.append(Node.leaf(leafValues[0]))
            return
        }

        let internalCount = leafCount - 1
        let features = try integers("split_feature")
        let thresholds = try numbers("threshold")
        let decisions = try integers("decision_type")
        let left = try integers("left_child")
        let right = try integers("right_child")
        guard [features.count, thresholds.count, decisions.count, left.count, right.count].allSatisfy({ $0 == internalCount }) else {
            throw ModelLoadError.invalidTree(tree: treeIndex, reason: "split arrays do not all have num_leaves - 1 = \(internalCount) entries")
        }

        // Validate the shape over internal nodes and leaves together: internal i is node i, leaf j is
        // node internalCount + j (LightGBM writes a leaf child as ~j).
        func shapeIndex(_ child: Int) -> Int { child >= 0 ? child : internalCount + ~child }
        try TreeShape.validate(tree: treeIndex, nodeCount: internalCount + leafCount) { node in
            node < internalCount ? (shapeIndex(left[node]), shapeIndex(right[node])) : nil
        }

        var catBoundaries: [Int] = []
        var catThreshold: [Int] = []
        let categoricalCount = Int(block["num_cat"] ?? "0") ?? -1
        guard categoricalCount >= 0 else { throw ModelLoadError.malformed("Tree=\(treeIndex) num_cat is not an integer") }
        if categoricalCount > 0 {
            catBoundaries = try integers("cat_boundaries")
            catThreshold = try integers("cat_threshold")
            guard catBoundaries.count == categoricalCount + 1, catBoundaries.first == 0,
                  zip(catBoundaries, catBoundaries.dropFirst()).allSatisfy({ $0 <= $1 }),
                  catBoundaries.last == catThreshold.count,
                  catThreshold.allSatisfy({ $0 >= 0 && $0 <= Int(UInt32.max) }) else {
                throw ModelLoadError.invalidTree(tree: treeIndex, reason: "cat_boundaries / cat_threshold do not describe \(categoricalCount) bitsets")
            }
        }

        let order = TreeShape.breadthFirstOrder(nodeCount: internalCount + leafCount) { node in
            node < internalCount ? (shapeIndex(left[node]), shapeIndex(right[node])) : nil
        }
        var position = [Int](repeating: 0, count: order.count)
        for (newIndex, node) in order.enumerated() { position[node] = newIndex }
        let base = nodes.count
        for node in order {
            guard node < internalCount else {
                nodes.append(Node.leaf(leafValues[node - internalCount]))
                continue
            }
            guard features[node] >= 0 && features[node] < featureCount && features[node] <= Int(Node.featureMask) else {
                throw ModelLoadError.invalidTree(tree: treeIndex, reason: "node \(node) splits on feature \(features[node]), the model has \(featureCount)")
            }
            guard decisions[node] >= 0 && decisions[node] < 16 else {
                throw ModelLoadError.invalidTree(tree: treeIndex, reason: "node \(node) has decision_type \(decisions[node])")
            }
            let decision = UInt32(decisions[node])
            var meta = UInt32(features[node]) | ((decision >> 2) & 3) << Node.missingShift
            if decision & UInt32(defaultLeftMask) != 0 { meta |= Node.defaultLeftFlag }
            var threshold = thresholds[node]
            var payload = 0.0
            if decision & UInt32(categoricalMask) != 0 {
                let catIndex = thresholds[node]
                guard catIndex >= 0, catIndex.rounded() == catIndex, Int(catIndex) < categoricalCount else {
                    throw ModelLoadError.invalidTree(tree: treeIndex, reason: "node \(node) names categorical split \(catIndex), the tree has \(categoricalCount)")
                }
                let start = catBoundaries[Int(catIndex)], end = catBoundaries[Int(catIndex) + 1]
                meta |= Node.categoricalFlag
                threshold = 0
                payload = Double(categorySets.count)
                categorySets.append(CategorySet(offset: Int32(categoryWords.count), wordCount: Int32(end - start)))
                categoryWords.append(contentsOf: catThreshold[start..<end].map { UInt32($0) })
            } else {
                guard !threshold.isNaN else {
                    throw ModelLoadError.invalidTree(tree: treeIndex, reason: "node \(node) has a NaN threshold")
                }
                guard (decision >> 2) & 3 <= UInt32(missingNaN) else {
                    throw ModelLoadError.invalidTree(tree: treeIndex, reason: "node \(node) has an unknown missing_type")
                }
            }
            nodes.append(Node(threshold: threshold, payload: payload, meta: meta, left: UInt32(base + position[shapeIndex(left[node])])))
        }
    }

    public func score(_ row: UnsafeBufferPointer<Double>) -> Double {
        let raw = self.raw(row)
        switch output {
        case .probability: return 1.0 / (1.0 + exp(-sigmoidScale * raw))
        case .raw: return raw
        }
    }

    /// The sum of every tree's leaf, in double precision and tree order as LightGBM adds them.
    func raw(_ row: UnsafeBufferPointer<Double>) -> Double {
        withUnsafeTemporaryAllocation(of: Double.self, capacity: row.count) { features in
            // LightGBM's predictor stores a dense row sparsely, dropping every value within
            // kZeroThreshold of zero, so such values reach the trees as exactly 0.
            for i in 0..<row.count {
                let value = row[i]
                features[i] = abs(value) <= Self.zeroThreshold ? 0 : value
            }
            let input = UnsafeBufferPointer(features)
            return nodes.withUnsafeBufferPointer { nodes in
                categorySets.withUnsafeBufferPointer { sets in
                    categoryWords.withUnsafeBufferPointer { words in
                        /// LightGBM's NumericalDecision without a branch: NaN becomes 0 unless the
                        /// node's missing type is NaN; a missing value (NaN for type NaN, 0 for type
                        /// Zero) follows default_left; anything else goes left when `x <= threshold`.
                        @inline(__always)
                        func step(_ index: UInt32) -> UInt32 {
                            let node = nodes[Int(index)]
                            let x = input[Int(node.meta & Node.featureMask)]
                            let goLeft: UInt32
                            if node.meta & Node.categoricalFlag != 0 {
                                goLeft = Self.categoryGoesLeft(x, set: sets[Int(node.payload)], words: words) ? 1 : 0
                            } else {
                                let nan: UInt32 = x.isNaN ? 1 : 0
                                let value = x.isNaN ? 0 : x
                                let zero: UInt32 = value == 0 ? 1 : 0
                                let missing = ((node.meta >> Node.missingShift) & 1 & zero) | ((node.meta >> (Node.missingShift + 1)) & 1 & nan)
                                let lessOrEqual: UInt32 = value <= node.threshold ? 1 : 0
                                goLeft = (missing & (node.meta >> 30) & 1) | ((missing ^ 1) & lessOrEqual)
                            }
                            return node.left &+ 1 &- goLeft
                        }
                        var sum = 0.0
                        // LightGBM's leaf-wise trees are deep and uneven (a 31-leaf tree may be 14
                        // deep while most leaves sit near 7), so walking eight in lockstep waits on
                        // the deepest; each tree is walked alone, still without a branch per split.
                        for root in roots {
                            var index = root
                            while nodes[Int(index)].meta & Node.leafFlag == 0 { index = step(index) }
                            sum += nodes[Int(index)].payload
                        }
                        return sum
                    }
                }
            }
        }
    }

    /// LightGBM's categorical decision: the category (the value truncated toward zero, so -0.5 is
    /// category 0) goes left when its bit is set; NaN, negative and huge values go right, whatever the
    /// node's missing type.
    @inline(__always)
    static func categoryGoesLeft(_ value: Double, set: CategorySet, words: UnsafeBufferPointer<UInt32>) -> Bool {
        guard !value.isNaN, value > -1, value < Double(Int32.max) else { return false }
        let category = Int(value)
        let word = category / 32
        guard word < Int(set.wordCount) else { return false }
        return words[Int(set.offset) + word] & (1 << UInt32(category % 32)) != 0
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
