/// A LightGBM model read from the text that `Booster.save_model` writes, evaluated the way
/// LightGBM's predictor does: features and thresholds in double precision, `x <= threshold` goes
/// left, missing values handled per node by its `missing_type` (None, Zero, NaN) and `default_left`,
/// categorical splits by bitset, leaves summed in double, and the objective's transform last.
public struct LightGBMModel: ScoringModel {
    /// One node, leaves included, 16 bytes, laid out breadth-first per tree so that a split's right
    /// child is always `left + 1`.
    ///
    /// A split compares one entry of the row's decision table (see `DecisionColumn`) with its
    /// threshold: the table already holds the value as this node's missing rule sees it, so the step
    /// is one load, one compare and one add for every kind of numeric split. A leaf reads the
    /// table's last entry (always -inf, so it always "goes left") and its `left` is itself: once a
    /// walk reaches a leaf it stays there, which is how a walk knows it is done.
    struct Node {
        /// A split's threshold; a leaf's value; a categorical split's category-set index.
        var threshold: Double
        /// The decision-table entry the split reads, with `categoricalFlag` for a categorical split.
        var slot: UInt32
        /// Index of the left child (the right child follows it); a leaf's own index.
        var left: UInt32

        static let categoricalFlag: UInt32 = 1 << 31
        static let slotMask: UInt32 = ~categoricalFlag

        var isCategorical: Bool { slot & Self.categoricalFlag != 0 }

        /// A leaf stored at `index` of a model reading `featureCount` features.
        static func leaf(_ value: Double, at index: Int, featureCount: Int) -> Node {
            Node(threshold: value, slot: UInt32(DecisionColumn.allCases.count * featureCount), left: UInt32(index))
        }
    }

    /// The columns of a row's decision table: the row's values, each rewritten once per row for one
    /// of LightGBM's missing-value rules, so that `value <= threshold` decides the split. A value that
    /// must go left becomes -inf (below every threshold), one that must go right becomes NaN (no
    /// comparison with NaN holds).
    enum DecisionColumn: UInt32, CaseIterable {
        /// The value itself: categorical splits and missing_type NaN going right (NaN goes right
        /// by itself).
        case raw
        /// missing_type None: NaN is read as 0.
        case noneMissing
        /// missing_type Zero: NaN and 0 are missing and follow default_left.
        case zeroGoesRight, zeroGoesLeft
        /// missing_type NaN with default_left.
        case nanGoesLeft

        static func forSplit(missingType: UInt8, defaultLeft: Bool) -> DecisionColumn {
            switch (missingType, defaultLeft) {
            case (LightGBMModel.missingZero, false): return .zeroGoesRight
            case (LightGBMModel.missingZero, true): return .zeroGoesLeft
            case (LightGBMModel.missingNaN, false): return .raw
            case (LightGBMModel.missingNaN, true): return .nanGoesLeft
            default: return .noneMissing
            }
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
        nodes.count * MemoryLayout<Node>.stride + groups.count * MemoryLayout<TreeGroup>.stride + categoryWords.count * 4
            + categorySets.count * MemoryLayout<CategorySet>.stride
    }

    let nodes: [Node]
    let groups: [TreeGroup]
    public let treeCount: Int
    let categorySets: [CategorySet]
    let categoryWords: [UInt32]
    let sigmoidScale: Double
    /// Categories a request gives by value, re-coded as LightGBM re-codes a DataFrame (nil: none).
    let categoryCodes: CategoryCodes?

    init(text bytes: [UInt8]) throws(ModelLoadError) {
        // LightGBM finds its trees at byte offsets (tree_sizes, in every file it writes) counted with
        // "\n" line ends: with "\r\n" (a Windows checkout) it stops with "expect a tree here" too.
        // (Swift also reads "\r\n" as one Character, which a split on "\n" does not cut.)
        if let offset = bytes.firstIndex(of: UInt8(ascii: "\r")) {
            throw ModelLoadError.malformed("a LightGBM text model has \"\\n\" line ends, this one a carriage return at byte \(offset) (CRLF from a Windows checkout? LightGBM cannot load it either when it lists tree_sizes, as the files it writes do; save it again, or mark *.txt as -text in .gitattributes)")
        }
        let text = String(decoding: bytes, as: UTF8.self)
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false)[...]
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
        // LightGBM writes it as a bare line, which also ends the key=value header.
        if header["average_output"] != nil || lines.first == "average_output" {
            throw ModelLoadError.unsupported("average_output (random-forest mode)")
        }
        let objectiveLine = try headerValue("objective")
        let objectiveParts = objectiveLine.split(separator: " ")
        switch objectiveParts.first {
        case "binary":
            // "binary sigmoid:K" only: another parameter could change what the output means. LightGBM
            // itself refuses a model without a positive sigmoid, and of two it keeps the last.
            guard objectiveParts.count == 2, objectiveParts[1].hasPrefix("sigmoid:") else {
                throw ModelLoadError.unsupported("objective '\(objectiveLine)'; supported: binary sigmoid:K, regression")
            }
            self.output = .probability
            guard let scale = Double(objectiveParts[1].dropFirst("sigmoid:".count)), scale.isFinite, scale > 0 else {
                throw ModelLoadError.invalidValue("objective '\(objectiveLine)' has a bad sigmoid")
            }
            self.sigmoidScale = scale
        case "regression":
            // Plain L2 regression only: "regression sqrt" (reg_sqrt) predicts sign(x)·x² of the sum.
            guard objectiveParts.count == 1 else {
                throw ModelLoadError.unsupported("objective '\(objectiveLine)'; supported: binary sigmoid:K, regression")
            }
            self.output = .raw
            self.sigmoidScale = 1
        default:
            throw ModelLoadError.unsupported("objective '\(objectiveLine)'; supported: binary, regression")
        }
        self.objective = objectiveLine

        guard let maxFeature = Int(try headerValue("max_feature_idx")), maxFeature >= 0, maxFeature < Int(Node.slotMask) else {
            throw ModelLoadError.malformed("max_feature_idx is not a non-negative integer below \(Int(Node.slotMask))")
        }
        let names = try headerValue("feature_names").split(separator: " ").map(String.init)
        guard names.count == maxFeature + 1 else {
            throw ModelLoadError.malformed("feature_names has \(names.count) names, max_feature_idx says \(maxFeature + 1)")
        }
        guard Set(names).count == names.count else { throw ModelLoadError.malformed("feature_names repeats a name") }
        guard names.count * DecisionColumn.allCases.count < Int(Node.slotMask) else {
            throw ModelLoadError.unsupported("\(names.count) features (at most \(Int(Node.slotMask) / DecisionColumn.allCases.count - 1))")
        }
        self.featureNames = names

        var nodes: [Node] = []
        var roots: [UInt32] = []
        var depths: [Int] = []
        var sets: [CategorySet] = []
        var words: [UInt32] = []
        var sawEnd = false
        // Where each tree's block starts, in bytes, and where "end of trees" does.
        var blockStarts: [Int] = []
        func byteOffset(of line: Substring) -> Int { text.utf8.distance(from: text.startIndex, to: line.startIndex) }
        while let line = lines.first {
            if line.isEmpty { lines = lines.dropFirst(); continue }
            if line == "end of trees" { sawEnd = true; blockStarts.append(byteOffset(of: line)); break }
            guard line.hasPrefix("Tree=") else {
                throw ModelLoadError.malformed("expected 'Tree=N' or 'end of trees', found '\(line.prefix(40))'")
            }
            blockStarts.append(byteOffset(of: line))
            lines = lines.dropFirst()
            let block = Self.keyValues(takingFrom: &lines)
            roots.append(UInt32(nodes.count))
            depths.append(try Self.appendTree(block, index: roots.count - 1, featureCount: names.count, nodes: &nodes,
                                              categorySets: &sets, categoryWords: &words))
        }
        guard sawEnd else { throw ModelLoadError.malformed("no 'end of trees' line (truncated file)") }
        guard !roots.isEmpty else { throw ModelLoadError.malformed("the model has no trees") }
        if let sizes = header["tree_sizes"] {
            let listed = sizes.split(separator: " ")
            guard listed.count == roots.count else {
                throw ModelLoadError.malformed("tree_sizes lists \(listed.count) trees, the file has \(roots.count)")
            }
            // LightGBM finds tree i at the first tree's offset plus the sizes before it, not by
            // reading on: sizes that do not match the blocks have it score other trees than these.
            var expected = blockStarts[0]
            for (tree, size) in listed.enumerated() {
                guard blockStarts[tree] == expected, let bytes = Int(size), bytes > 0 else {
                    throw ModelLoadError.malformed("tree_sizes does not match the trees in the file (tree \(tree) starts \(blockStarts[tree] - blockStarts[0]) bytes after the first, the sizes say \(expected - blockStarts[0])); LightGBM reads the trees at the offsets they give")
                }
                expected += bytes
            }
            guard blockStarts[roots.count] == expected else {
                throw ModelLoadError.malformed("tree_sizes does not match the trees in the file (they end \(blockStarts[roots.count] - blockStarts[0]) bytes after the first begins, the sizes say \(expected - blockStarts[0])); LightGBM reads the trees at the offsets they give")
            }
        }
        // The padding lane of a short last group: a leaf worth 0, never added.
        let padding = UInt32(nodes.count)
        nodes.append(Node.leaf(0, at: nodes.count, featureCount: names.count))
        self.nodes = nodes
        self.groups = TreeGroup.make(roots: roots, depths: depths, padding: padding)
        self.treeCount = roots.count
        self.categorySets = sets
        self.categoryWords = words
        let pandasLine = lines.last(where: { $0.hasPrefix("pandas_categorical:") })?.dropFirst("pandas_categorical:".count)
        self.categoryCodes = try Self.categoryCodes(pandasLine.map(String.init), featureInfos: header["feature_infos"], featureNames: names)
    }

    /// The categories of a model trained on a DataFrame: the file's last line,
    /// `pandas_categorical:[[4829, 5411, ...], ...]`, holds one list per category column of the
    /// DataFrame, in column order; `feature_infos` tells which features are categorical (their
    /// entry lists categories, `-1:3:5`, where a numeric one gives a range, `[0:23]`, or `none`).
    static func categoryCodes(_ pandas: String?, featureInfos: String?, featureNames: [String]) throws(ModelLoadError) -> CategoryCodes? {
        guard let pandas, pandas != "null" else { return nil }
        let lists = try JSONNode.parse(Array(pandas.utf8), what: "pandas_categorical").array()
        let infos = featureInfos?.split(separator: " ") ?? []
        let categorical = infos.indices.filter { !infos[$0].hasPrefix("[") && infos[$0] != "none" }
        guard infos.count == featureNames.count, lists.count == categorical.count else {
            throw ModelLoadError.unsupported("pandas_categorical holds \(lists.count) category lists for \(categorical.count) categorical features: which list belongs to which feature cannot be told")
        }
        var byFeature: [Int: [Double]] = [:]
        for (list, feature) in zip(lists, categorical) {
            guard case .array(let values) = list.value, values.allSatisfy({ if case .number = $0 { true } else { false } }) else {
                throw ModelLoadError.unsupported("feature '\(featureNames[feature])' was trained on text categories; requests give numbers, so train it on numeric categories")
            }
            // The lists belong to the DataFrame's category columns, ordered ones included (which
            // train as numbers), and categorical_feature may also name a column of plain numbers: a
            // count that matches proves nothing by itself. A feature re-coded through a list holds
            // its codes, 0..<count (-1: missing), so a category outside them shows the wrong pairing.
            let codes = try list.doubles()
            let seen = infos[feature].split(separator: ":")
            guard seen.allSatisfy({ Double($0).map { $0.rounded() == $0 && $0 >= -1 && $0 < Double(codes.count) } ?? false }) else {
                throw ModelLoadError.unsupported("feature '\(featureNames[feature])' was trained on categories \(infos[feature].prefix(60)), not codes of the \(codes.count) categories pandas_categorical pairs with it: which list belongs to which feature cannot be told")
            }
            byFeature[feature] = codes
        }
        return try CategoryCodes(lists: byFeature, featureCount: featureNames.count, featureNames: featureNames)
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

    /// Appends one tree's nodes and returns its depth.
    private static func appendTree(_ block: [String: String], index treeIndex: Int, featureCount: Int, nodes: inout [Node],
                                   categorySets: inout [CategorySet], categoryWords: inout [UInt32]) throws(ModelLoadError) -> Int {
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
            nodes.append(Node.leaf(leafValues[0], at: nodes.count, featureCount: featureCount))
            return 0
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
        // node internalCount + j (LightGBM writes a leaf child as ~j). In range first: ~Int.min
        // would overflow the sum.
        if let outside = (left + right).first(where: { !(-leafCount..<internalCount).contains($0) }) {
            throw ModelLoadError.invalidTree(tree: treeIndex, reason: "child index \(outside) is outside the tree (\(internalCount) internal nodes, \(leafCount) leaves)")
        }
        func shapeIndex(_ child: Int) -> Int { child >= 0 ? child : internalCount + ~child }
        try TreeShape.validate(tree: treeIndex, nodeCount: internalCount + leafCount) { node in
            node < internalCount ? (shapeIndex(left[node]), shapeIndex(right[node])) : nil
        }

        var catBoundaries: [Int] = []
        var catThreshold: [Int] = []
        let categoricalCount = Int(block["num_cat"] ?? "0") ?? -1
        // At most one bitset per split.
        guard categoricalCount >= 0, categoricalCount <= internalCount else {
            throw ModelLoadError.malformed("Tree=\(treeIndex) num_cat is not an integer from 0 to its \(internalCount) splits")
        }
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
        var depth = [Int](repeating: 0, count: order.count)
        for node in order {
            guard node < internalCount else {
                nodes.append(Node.leaf(leafValues[node - internalCount], at: nodes.count, featureCount: featureCount))
                continue
            }
            depth[shapeIndex(left[node])] = depth[node] + 1
            depth[shapeIndex(right[node])] = depth[node] + 1
            guard features[node] >= 0 && features[node] < featureCount else {
                throw ModelLoadError.invalidTree(tree: treeIndex, reason: "node \(node) splits on feature \(features[node]), the model has \(featureCount)")
            }
            guard decisions[node] >= 0 && decisions[node] < 16 else {
                throw ModelLoadError.invalidTree(tree: treeIndex, reason: "node \(node) has decision_type \(decisions[node])")
            }
            let decision = UInt8(decisions[node])
            let missingType = (decision >> 2) & 3
            var slot: UInt32
            var threshold = thresholds[node]
            if decision & categoricalMask != 0 {
                let catIndex = thresholds[node]
                guard catIndex >= 0, catIndex.rounded() == catIndex, catIndex < Double(categoricalCount) else {
                    throw ModelLoadError.invalidTree(tree: treeIndex, reason: "node \(node) names categorical split \(catIndex), the tree has \(categoricalCount)")
                }
                let start = catBoundaries[Int(catIndex)], end = catBoundaries[Int(catIndex) + 1]
                try CategoryBitsets.checkRoom(held: categoryWords.count, adding: end - start, tree: treeIndex)
                slot = UInt32(featureCount * Int(DecisionColumn.raw.rawValue) + features[node]) | Node.categoricalFlag
                threshold = Double(categorySets.count)
                categorySets.append(CategorySet(offset: Int32(categoryWords.count), wordCount: Int32(end - start)))
                categoryWords.append(contentsOf: catThreshold[start..<end].map { UInt32($0) })
            } else {
                guard !threshold.isNaN else {
                    throw ModelLoadError.invalidTree(tree: treeIndex, reason: "node \(node) has a NaN threshold")
                }
                guard missingType <= missingNaN else {
                    throw ModelLoadError.invalidTree(tree: treeIndex, reason: "node \(node) has an unknown missing_type")
                }
                let column = DecisionColumn.forSplit(missingType: missingType, defaultLeft: decision & defaultLeftMask != 0)
                slot = UInt32(featureCount * Int(column.rawValue) + features[node])
            }
            nodes.append(Node(threshold: threshold, slot: slot, left: UInt32(base + position[shapeIndex(left[node])])))
        }
        return depth.max() ?? 0
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
        let columns = DecisionColumn.allCases.count
        let width = row.count
        return withUnsafeTemporaryAllocation(of: Double.self, capacity: columns * width + 1) { table in
            for i in 0..<width {
                // LightGBM's predictor stores a dense row sparsely, dropping every value within
                // kZeroThreshold of zero, so such values reach the trees as exactly 0.
                let x = abs(row[i]) <= Self.zeroThreshold ? 0 : row[i]
                let zeroOrMissing = x.isNaN || x == 0
                table[Int(DecisionColumn.raw.rawValue) * width + i] = x
                table[Int(DecisionColumn.noneMissing.rawValue) * width + i] = x.isNaN ? 0 : x
                table[Int(DecisionColumn.zeroGoesRight.rawValue) * width + i] = zeroOrMissing ? .nan : x
                table[Int(DecisionColumn.zeroGoesLeft.rawValue) * width + i] = zeroOrMissing ? -.infinity : x
                table[Int(DecisionColumn.nanGoesLeft.rawValue) * width + i] = x.isNaN ? -.infinity : x
            }
            if let categoryCodes {
                // Categorical splits read the raw column; NaN (an unseen category) goes right there.
                for i in categoryCodes.features {
                    table[Int(DecisionColumn.raw.rawValue) * width + i] = categoryCodes.code(row[i], feature: i)
                }
            }
            // What every leaf reads: -inf <= any leaf value, so a leaf's step returns the leaf itself.
            table[columns * width] = -.infinity
            let values = UnsafeBufferPointer(table)
            return nodes.withUnsafeBufferPointer { nodes in
                categorySets.withUnsafeBufferPointer { sets in
                    categoryWords.withUnsafeBufferPointer { words in
                        @inline(__always)
                        func step(_ index: UInt32) -> UInt32 {
                            let node = nodes[Int(index)]
                            let x = values[Int(node.slot & Node.slotMask)]
                            let goLeft: UInt32
                            if node.isCategorical {
                                goLeft = Self.categoryGoesLeft(x, set: sets[Int(node.threshold)], words: words) ? 1 : 0
                            } else {
                                goLeft = x <= node.threshold ? 1 : 0
                            }
                            return node.left &+ 1 &- goLeft
                        }
                        var sum = 0.0
                        for group in groups {
                            group.walk(step) { sum += nodes[Int($0)].threshold }
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
