/// A LightGBM model read from the text that `Booster.save_model` writes, evaluated the way
/// LightGBM's predictor does: features and thresholds in double precision, `x <= threshold` goes
/// left, missing values handled per node by its `missing_type` (None, Zero, NaN) and `default_left`,
/// categorical splits by bitset, leaves summed in double, and the objective's transform last.
public struct LightGBMModel: ScoringModel {
    struct Node {
        var threshold: Double
        var feature: Int32
        /// Child references: a node index when >= 0, else `~leafIndex` into `leafValues`.
        var left: Int32
        var right: Int32
        var decision: UInt8
        /// For a categorical split, the first word of its bitset in `categoryWords`, else -1.
        var categoryOffset: Int32
        var categoryWordCount: Int32
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
    public var treeCount: Int { roots.count }
    public var memoryFootprint: Int {
        nodes.count * MemoryLayout<Node>.stride + leafValues.count * 8 + roots.count * 4 + categoryWords.count * 4
    }

    let nodes: [Node]
    let leafValues: [Double]
    /// Each tree's root, in the same encoding as a child (a single-leaf tree has a leaf root).
    let roots: [Int32]
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
        var leaves: [Double] = []
        var roots: [Int32] = []
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
            try Self.appendTree(block, index: roots.count, featureCount: names.count, nodes: &nodes, leaves: &leaves, roots: &roots, categoryWords: &words)
        }
        guard sawEnd else { throw ModelLoadError.malformed("no 'end of trees' line (truncated file)") }
        guard !roots.isEmpty else { throw ModelLoadError.malformed("the model has no trees") }
        if let sizes = header["tree_sizes"], sizes.split(separator: " ").count != roots.count {
            throw ModelLoadError.malformed("tree_sizes lists \(sizes.split(separator: " ").count) trees, the file has \(roots.count)")
        }
        self.nodes = nodes
        self.leafValues = leaves
        self.roots = roots
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

    private static func appendTree(_ block: [String: String], index treeIndex: Int, featureCount: Int,
                                   nodes: inout [Node], leaves: inout [Double], roots: inout [Int32],
                                   categoryWords: inout [UInt32]) throws(ModelLoadError) {
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
        let leafBase = leaves.count
        leaves.append(contentsOf: leafValues)
        guard leafCount > 1 else {
            roots.append(~Int32(leafBase))
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

        let base = Int32(nodes.count)
        func reference(_ child: Int) -> Int32 { child >= 0 ? base + Int32(child) : ~Int32(leafBase + ~child) }
        for node in 0..<internalCount {
            guard features[node] >= 0 && features[node] < featureCount else {
                throw ModelLoadError.invalidTree(tree: treeIndex, reason: "node \(node) splits on feature \(features[node]), the model has \(featureCount)")
            }
            guard decisions[node] >= 0 && decisions[node] < 16 else {
                throw ModelLoadError.invalidTree(tree: treeIndex, reason: "node \(node) has decision_type \(decisions[node])")
            }
            let decision = UInt8(decisions[node])
            var offset: Int32 = -1
            var wordCount: Int32 = 0
            if decision & categoricalMask != 0 {
                let catIndex = thresholds[node]
                guard catIndex >= 0, catIndex.rounded() == catIndex, Int(catIndex) < categoricalCount else {
                    throw ModelLoadError.invalidTree(tree: treeIndex, reason: "node \(node) names categorical split \(catIndex), the tree has \(categoricalCount)")
                }
                let start = catBoundaries[Int(catIndex)], end = catBoundaries[Int(catIndex) + 1]
                offset = Int32(categoryWords.count)
                wordCount = Int32(end - start)
                categoryWords.append(contentsOf: catThreshold[start..<end].map { UInt32($0) })
            } else {
                guard !thresholds[node].isNaN else {
                    throw ModelLoadError.invalidTree(tree: treeIndex, reason: "node \(node) has a NaN threshold")
                }
                guard (decision >> 2) & 3 <= missingNaN else {
                    throw ModelLoadError.invalidTree(tree: treeIndex, reason: "node \(node) has an unknown missing_type")
                }
            }
            nodes.append(Node(threshold: thresholds[node], feature: Int32(features[node]),
                              left: reference(left[node]), right: reference(right[node]),
                              decision: decision, categoryOffset: offset, categoryWordCount: wordCount))
        }
        roots.append(base)
    }

    public func score(_ row: UnsafeBufferPointer<Double>) -> Double {
        let raw = self.raw(row)
        switch output {
        case .probability: return 1.0 / (1.0 + exp(-sigmoidScale * raw))
        case .raw: return raw
        }
    }

    /// The sum of every tree's leaf, in double precision as LightGBM adds it.
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
                leafValues.withUnsafeBufferPointer { leaves in
                    categoryWords.withUnsafeBufferPointer { words in
                        var sum = 0.0
                        for root in roots {
                            var reference = root
                            while reference >= 0 {
                                reference = Self.next(nodes[Int(reference)], row: input, words: words)
                            }
                            sum += leaves[Int(~reference)]
                        }
                        return sum
                    }
                }
            }
        }
    }

    @inline(__always)
    static func next(_ node: Node, row: UnsafeBufferPointer<Double>, words: UnsafeBufferPointer<UInt32>) -> Int32 {
        var value = row[Int(node.feature)]
        if node.categoryOffset >= 0 {
            return categoryGoesLeft(value, node: node, words: words) ? node.left : node.right
        }
        let missingType = (node.decision >> 2) & 3
        if value.isNaN && missingType != missingNaN { value = 0 }
        if (missingType == missingZero && value >= -zeroThreshold && value <= zeroThreshold)
            || (missingType == missingNaN && value.isNaN) {
            return node.decision & defaultLeftMask != 0 ? node.left : node.right
        }
        return value <= node.threshold ? node.left : node.right
    }

    /// LightGBM's categorical decision: the category (the value truncated toward zero, so -0.5 is
    /// category 0) goes left when its bit is set; NaN, negative and huge values go right, whatever the
    /// node's missing type.
    @inline(__always)
    static func categoryGoesLeft(_ value: Double, node: Node, words: UnsafeBufferPointer<UInt32>) -> Bool {
        guard !value.isNaN, value > -1, value < Double(Int32.max) else { return false }
        let category = Int(value)
        let word = category / 32
        guard word < Int(node.categoryWordCount) else { return false }
        return words[Int(node.categoryOffset) + word] & (1 << UInt32(category % 32)) != 0
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
