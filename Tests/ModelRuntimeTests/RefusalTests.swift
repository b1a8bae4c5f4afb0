import Foundation
import Testing
@testable import ModelRuntime

/// Artifacts the evaluators cannot score exactly are refused at load, with a message naming the problem.
struct RefusalTests {
    static let unsupported = ExampleModels.root.appendingPathComponent("unsupported")

    static func refusal(_ format: ModelFormat, _ bytes: [UInt8]) -> String? {
        do {
            _ = try ModelLoader.load(format, from: bytes)
            return nil
        } catch {
            return error.description
        }
    }

    static func refusal(_ format: ModelFormat, text: String) -> String? { refusal(format, Array(text.utf8)) }

    @Test(arguments: [
        ("xgboost-gblinear.json", ModelFormat.xgboostJSON, "booster 'gblinear'"),
        ("xgboost-dart.json", .xgboostJSON, "dart"),
        ("xgboost-multiclass.json", .xgboostJSON, "multi:softprob"),
        ("lightgbm-multiclass.txt", .lightgbmText, "multiclass"),
        ("lightgbm-linear-tree.txt", .lightgbmText, "linear tree"),
        ("lightgbm-random-forest.txt", .lightgbmText, "average_output (random-forest mode)"),
        ("xgboost-early-stopped.json", .xgboostJSON, "early-stopped model (best_iteration 2 of"),
    ])
    func librariesOwnUnsupportedModelsAreRefused(file: String, format: ModelFormat, message: String) throws {
        let bytes = try ExampleModels.bytes(Self.unsupported.appendingPathComponent(file))
        let found = Self.refusal(format, bytes)
        #expect(found != nil, "\(file) was accepted")
        guard let refusal = found else { return }
        #expect(refusal.contains(message), "\(file): \(refusal)")
    }

    // MARK: XGBoost JSON, edited

    static func xgboostDocument() throws -> [String: Any] {
        let example = try ExampleModels.named("fraud-xgboost")
        return try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: example.artifact)) as? [String: Any])
    }

    /// Applies `edit` to tree 0 of the example XGBoost model and returns the refusal.
    static func xgboostRefusal(editingTree edit: (inout [String: Any]) -> Void) throws -> String? {
        try xgboostTreesRefusal { edit(&$0[0]) }
    }

    /// Applies `edit` to the example XGBoost model's trees and returns the refusal.
    static func xgboostTreesRefusal(_ edit: (inout [[String: Any]]) -> Void) throws -> String? {
        try xgboostLearnerRefusal { learner in
            var booster = learner["gradient_booster"] as! [String: Any]
            var model = booster["model"] as! [String: Any]
            var trees = model["trees"] as! [[String: Any]]
            edit(&trees)
            model["trees"] = trees
            booster["model"] = model
            learner["gradient_booster"] = booster
        }
    }

    /// Applies `edit` to the example XGBoost model's `learner` object and returns the refusal.
    static func xgboostLearnerRefusal(_ edit: (inout [String: Any]) -> Void) throws -> String? {
        var document = try xgboostDocument()
        var learner = document["learner"] as! [String: Any]
        edit(&learner)
        document["learner"] = learner
        return refusal(.xgboostJSON, [UInt8](try JSONSerialization.data(withJSONObject: document)))
    }

    /// Categories the DataFrame held as text cannot come in a request, which gives numbers; a list
    /// of categories that cannot be matched to its feature cannot be used either.
    @Test func categoriesThatRequestsCannotGiveAreRefused() throws {
        let xgb = try ExampleModels.named("xgboost-categories-by-value")
        var document = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: xgb.artifact)) as? [String: Any])
        var learner = document["learner"] as! [String: Any]
        var booster = learner["gradient_booster"] as! [String: Any]
        var model = booster["model"] as! [String: Any]
        var cats = model["cats"] as! [String: Any]
        var encodings = cats["enc"] as! [[String: Any]]
        let position = (learner["feature_names"] as! [String]).firstIndex(of: "merchant_category")!
        encodings[position] = ["offsets": [0, 4, 9], "values": Array("food" + "fuels").map { Int($0.asciiValue!) }]
        cats["enc"] = encodings
        model["cats"] = cats
        booster["model"] = model
        learner["gradient_booster"] = booster
        document["learner"] = learner
        let text = Self.refusal(.xgboostJSON, [UInt8](try JSONSerialization.data(withJSONObject: document)))
        #expect(text?.contains("feature 'merchant_category' was trained on text categories") == true, "\(text ?? "accepted")")

        let lgb = try ExampleModels.named("lightgbm-categories-by-value")
        let original = try String(contentsOf: lgb.artifact, encoding: .utf8)
        let pandasLine = try #require(original.split(separator: "\n").last { $0.hasPrefix("pandas_categorical:") })
        let textual = original.replacingOccurrences(of: pandasLine, with: "pandas_categorical:[[\"food\", \"fuel\"]]")
        #expect(Self.refusal(.lightgbmText, text: textual)?.contains("feature 'merchant_category' was trained on text categories") == true)
        let twoLists = original.replacingOccurrences(of: pandasLine, with: "pandas_categorical:[[1, 2], [3, 4]]")
        #expect(Self.refusal(.lightgbmText, text: twoLists)?.contains("2 category lists for 1 categorical features") == true)
    }

    /// One list for one categorical feature, but not that feature's: the DataFrame's category
    /// column was an ordered one (trained as numbers) and `categorical_feature` named a column of
    /// merchant codes. The feature's categories are not codes of the list, so it is refused rather
    /// than re-coded through a list that turns every merchant code into a missing value.
    @Test func aCategoryListThatIsNotTheFeaturesIsRefused() throws {
        let lgb = try ExampleModels.named("lightgbm-categories-by-value")
        let original = try String(contentsOf: lgb.artifact, encoding: .utf8)
        let infosLine = try #require(original.split(separator: "\n").first { $0.hasPrefix("feature_infos=") })
        var infos = infosLine.dropFirst("feature_infos=".count).split(separator: " ").map(String.init)
        let position = try #require(infos.firstIndex { !$0.hasPrefix("[") && $0 != "none" })
        #expect(Self.refusal(.lightgbmText, text: original) == nil, "the example itself must load")
        infos[position] = "-1:7995:5812:4111:5411"
        let merchantCodes = original.replacingOccurrences(of: infosLine, with: "feature_infos=" + infos.joined(separator: " "))
        let text = Self.refusal(.lightgbmText, text: merchantCodes)
        #expect(text?.contains("feature 'merchant_category' was trained on categories -1:7995:5812:4111:5411, not codes of the 20 categories") == true,
                "\(text ?? "accepted")")
    }

    /// XGBoost before 3.2 refuses a logistic base score of 0 or 1; 3.2 and later clamp it (the
    /// compat model xgboost-constant-label, trained on labels all 0, is scored in ParityTests).
    @Test func aBaseScoreOfZeroIsReadAsTheXGBoostThatSavedItReadsIt() throws {
        let example = try ExampleModels.named("xgboost-constant-label")
        var document = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: example.artifact)) as? [String: Any])
        #expect(document["version"] as? [Int] == [3, 4, 1])
        #expect(Self.refusal(.xgboostJSON, [UInt8](try JSONSerialization.data(withJSONObject: document))) == nil)
        document["version"] = [3, 1, 1]
        let older = Self.refusal(.xgboostJSON, [UInt8](try JSONSerialization.data(withJSONObject: document)))
        #expect(older?.contains("base_score 0.0 must be strictly between 0 and 1 for binary:logistic") == true, "\(older ?? "accepted")")
        document["version"] = [3, 4, 1]
        var learner = document["learner"] as! [String: Any]
        var params = learner["learner_model_param"] as! [String: Any]
        params["base_score"] = "[1.5E0]"
        learner["learner_model_param"] = params
        document["learner"] = learner
        let outside = Self.refusal(.xgboostJSON, [UInt8](try JSONSerialization.data(withJSONObject: document)))
        #expect(outside?.contains("base_score 1.5 must be between 0 and 1 for binary:logistic") == true, "\(outside ?? "accepted")")
    }

    /// Pruned nodes (xgboost-pruned, scored in ParityTests) may stay unreachable only as XGBoost
    /// leaves them: as many as `num_deleted` says, each marked deleted.
    @Test func unreachableNodesMustBeTheDeletedOnes() throws {
        let example = try ExampleModels.named("xgboost-pruned")
        let document = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: example.artifact)) as? [String: Any])
        func refusal(_ edit: (inout [String: Any]) -> Void) throws -> String? {
            var document = document
            var learner = document["learner"] as! [String: Any]
            var booster = learner["gradient_booster"] as! [String: Any]
            var model = booster["model"] as! [String: Any]
            var trees = model["trees"] as! [[String: Any]]
            let index = try #require(trees.firstIndex { Int(($0["tree_param"] as! [String: Any])["num_deleted"] as! String)! > 0 })
            edit(&trees[index])
            model["trees"] = trees
            booster["model"] = model
            learner["gradient_booster"] = booster
            document["learner"] = learner
            return Self.refusal(.xgboostJSON, [UInt8](try JSONSerialization.data(withJSONObject: document)))
        }
        #expect(try refusal { _ in } == nil)
        let uncounted = try refusal { tree in
            var param = tree["tree_param"] as! [String: Any]
            param["num_deleted"] = "0"
            tree["tree_param"] = param
        }
        #expect(uncounted?.contains("unreachable from the root") == true, "\(uncounted ?? "accepted")")
        let unmarked = try refusal { tree in
            var features = tree["split_indices"] as! [Int]
            let left = tree["left_children"] as! [Int]
            let deleted = features.indices.first { features[$0] == Int(Int32.max) && left[$0] == -1 }!
            features[deleted] = 0
            tree["split_indices"] = features
        }
        #expect(unmarked?.contains("unreachable from the root") == true, "\(unmarked ?? "accepted")")
    }

    /// Two files that are not JSON but are XGBoost's own are named for what they are: 2.x's bare NaN
    /// in categorical splits, and a model saved as UBJSON.
    @Test func xgboostFilesThatAreNotJSONSayWhatTheyAre() throws {
        let example = try ExampleModels.named("fraud-xgboost")
        let text = try String(contentsOf: example.artifact, encoding: .utf8)
        let range = try #require(text.range(of: "\"split_conditions\":["))
        let withNaN = text.replacingCharacters(in: range, with: "\"split_conditions\":[NaN,")
        #expect(Self.refusal(.xgboostJSON, text: withNaN)?.contains("holds a bare NaN at byte") == true)
        let ubj: [UInt8] = [UInt8(ascii: "{"), UInt8(ascii: "L"), 0, 0, 0, 0, 0, 0, 0, 7] + Array("learner".utf8)
        #expect(Self.refusal(.xgboostJSON, ubj)?.contains("is UBJSON (a .ubj file)") == true)
    }

    @Test func xgboostChildOutsideTheTree() throws {
        let refusal = try Self.xgboostRefusal { tree in
            var left = tree["left_children"] as! [Int]
            left[0] = 100_000
            tree["left_children"] = left
        }
        #expect(refusal?.contains("tree 0: child index 100000 is outside the tree") == true, "\(refusal ?? "accepted")")
    }

    @Test func xgboostCycle() throws {
        let refusal = try Self.xgboostRefusal { tree in
            var left = tree["left_children"] as! [Int]
            let right = tree["right_children"] as! [Int]
            // Point the first internal child back at the root.
            let child = left[0]
            var childLeft = left
            if left[child] != -1 { childLeft[child] = 0 } else { childLeft[right[0]] = 0 }
            left = childLeft
            tree["left_children"] = left
        }
        #expect(refusal?.contains("reached twice") == true, "\(refusal ?? "accepted")")
    }

    @Test func xgboostNonFiniteLeafAndUnknownObjective() throws {
        // JSON has no NaN; XGBoost writes non-finite values as bare words, which is not valid JSON.
        let example = try ExampleModels.named("fraud-xgboost")
        var text = try String(contentsOf: example.artifact, encoding: .utf8)
        let range = try #require(text.range(of: "\"split_conditions\":["))
        text.insert(contentsOf: "NaN,", at: range.upperBound)
        #expect(Self.refusal(.xgboostJSON, text: text) != nil)

        var infinite = try Self.xgboostDocument()
        var learner = infinite["learner"] as! [String: Any]
        learner["objective"] = ["name": "rank:pairwise"]
        infinite["learner"] = learner
        let objective = Self.refusal(.xgboostJSON, [UInt8](try JSONSerialization.data(withJSONObject: infinite)))
        #expect(objective?.contains("objective 'rank:pairwise'") == true)

        let leaf = try Self.xgboostRefusal { tree in
            var conditions = tree["split_conditions"] as! [Double]
            let left = tree["left_children"] as! [Int]
            let leafIndex = left.firstIndex(of: -1)!
            conditions[leafIndex] = 3.5e38 // beyond Float.greatestFiniteMagnitude: infinite as XGBoost's float
            tree["split_conditions"] = conditions
        }
        #expect(leaf?.contains("non-finite leaf value") == true, "\(leaf ?? "an infinite leaf was accepted")")
    }

    @Test func xgboostTruncatedAndMissingPieces() throws {
        let example = try ExampleModels.named("fraud-xgboost")
        let bytes = try ExampleModels.bytes(example.artifact)
        for cut in [1, bytes.count / 3, bytes.count - 2] {
            let refusal = Self.refusal(.xgboostJSON, Array(bytes.prefix(cut)))
            #expect(refusal?.contains("not valid JSON") == true, "cut at \(cut): \(refusal ?? "accepted")")
        }
        let noNames = try Self.xgboostRefusal { _ in }.map { _ in "" }
        #expect(noNames == nil) // the unedited model loads
        let refusal = try Self.xgboostLearnerRefusal { _ = $0.removeValue(forKey: "feature_names") }
        #expect(refusal?.contains("learner.feature_names") == true)
        #expect(Self.refusal(.xgboostJSON, []) == "malformed artifact: the artifact is empty")
        let mismatched = try Self.xgboostRefusal { tree in
            var right = tree["right_children"] as! [Int]
            right.removeLast()
            tree["right_children"] = right
        }
        #expect(mismatched?.contains("different lengths") == true)
    }

    // MARK: LightGBM text, edited

    static func lightgbmText() throws -> String {
        try String(contentsOf: ExampleModels.named("fraud-lightgbm").artifact, encoding: .utf8)
    }

    /// Sets one value of the first tree's `key=` line (the first value, or the last).
    static func settingFirstTreeValue(_ text: String, _ key: String, to value: String, last: Bool = false) -> String {
        editFirstTreeLine(text, prefix: key) { line in
            var values = line.dropFirst(key.count).split(separator: " ").map(String.init)
            values[last ? values.count - 1 : 0] = value
            return key + values.joined(separator: " ")
        }
    }

    /// Replaces the first line starting with `prefix` inside the first tree.
    static func editFirstTreeLine(_ text: String, prefix: String, _ edit: (String) -> String) -> String {
        var lines = text.components(separatedBy: "\n")
        let treeStart = lines.firstIndex { $0.hasPrefix("Tree=0") }!
        let index = lines[treeStart...].firstIndex { $0.hasPrefix(prefix) }!
        lines[index] = edit(lines[index])
        return lines.joined(separator: "\n")
    }

    @Test func lightgbmBrokenTrees() throws {
        let text = try Self.lightgbmText()
        #expect(Self.refusal(.lightgbmText, text: text) == nil)

        let outside = Self.settingFirstTreeValue(text, "left_child=", to: "999")
        #expect(Self.refusal(.lightgbmText, text: outside)?.contains("outside the tree") == true)

        let cycle = Self.settingFirstTreeValue(text, "right_child=", to: "0", last: true)
        #expect(Self.refusal(.lightgbmText, text: cycle)?.contains("reached twice") == true)

        let nanLeaf = Self.settingFirstTreeValue(text, "leaf_value=", to: "nan")
        #expect(Self.refusal(.lightgbmText, text: nanLeaf)?.contains("non-finite leaf value") == true)

        let objective = text.replacingOccurrences(of: "objective=binary sigmoid:1", with: "objective=lambdarank")
        #expect(Self.refusal(.lightgbmText, text: objective)?.contains("objective 'lambdarank'") == true)

        let truncated = String(text.prefix(text.count / 2))
        #expect(Self.refusal(.lightgbmText, text: truncated) != nil)
        let noEnd = String(text[..<text.range(of: "end of trees")!.lowerBound])
        #expect(Self.refusal(.lightgbmText, text: noEnd)?.contains("truncated") == true)
        #expect(Self.refusal(.lightgbmText, text: "{\"not\": \"lightgbm\"}")?.contains("starts with the line 'tree'") == true)
    }

    /// LightGBM finds each tree by the byte sizes in `tree_sizes`, not by reading on: sizes that do
    /// not match the blocks (as many, wrong lengths) have it score other trees than the file shows,
    /// so they are refused. So is a file with CRLF line ends, which LightGBM cannot load either
    /// (its offsets count "\n" line ends): said so, not that the file does not start with 'tree'.
    @Test func lightgbmTreeSizesMustMatchTheTrees() throws {
        let text = try Self.lightgbmText()
        let line = try #require(text.split(separator: "\n").first { $0.hasPrefix("tree_sizes=") })
        var sizes = line.dropFirst("tree_sizes=".count).split(separator: " ").map { Int($0)! }
        #expect(sizes.count >= 2)
        let total = sizes.reduce(0, +)
        sizes = [Int](repeating: 0, count: sizes.count - 1) + [total]
        let lumped = text.replacingOccurrences(of: line, with: "tree_sizes=" + sizes.map(String.init).joined(separator: " "))
        let refusal = Self.refusal(.lightgbmText, text: lumped)
        #expect(refusal?.contains("tree_sizes does not match the trees in the file (tree 0") == true, "\(refusal ?? "accepted")")

        var swapped = line.dropFirst("tree_sizes=".count).split(separator: " ").map { Int($0)! }
        let first = swapped.firstIndex { $0 != swapped[0] }!
        swapped.swapAt(0, first)
        let reordered = text.replacingOccurrences(of: line, with: "tree_sizes=" + swapped.map(String.init).joined(separator: " "))
        #expect(Self.refusal(.lightgbmText, text: reordered)?.contains("tree_sizes does not match the trees in the file (tree 1") == true)

        // The same values, one byte longer: the sizes after the first tree no longer land on a tree.
        let longerFirst = Self.editFirstTreeLine(text, prefix: "shrinkage=") { "shrinkage=0" + $0.dropFirst("shrinkage=".count) }
        #expect(longerFirst != text)
        #expect(Self.refusal(.lightgbmText, text: longerFirst)?.contains("tree_sizes does not match the trees in the file (tree 1") == true)
        let crlf = Self.refusal(.lightgbmText, text: text.replacingOccurrences(of: "\n", with: "\r\n"))
        #expect(crlf?.contains("a carriage return at byte 4 (CRLF from a Windows checkout? LightGBM cannot load it either") == true, "\(crlf ?? "accepted")")
    }

    /// Numbers an artifact can carry that once trapped the loader itself (a conversion or a sum
    /// overflowing) are refused with a message instead; so are category bitsets that would take
    /// gigabytes, and an objective whose output Sentinel does not compute.
    @Test func craftedNumbersAreRefusedNotTrapped() throws {
        for value: Any in ["nan", "1e300", 1e20] {
            let refusal = try Self.xgboostLearnerRefusal { learner in
                var params = learner["learner_model_param"] as! [String: Any]
                params["num_feature"] = value
                learner["learner_model_param"] = params
            }
            #expect(refusal?.contains("num_feature") == true, "num_feature \(value): \(refusal ?? "accepted")")
        }

        let text = try Self.lightgbmText()
        let hugeIndex = text.replacingOccurrences(of: "max_feature_idx=29", with: "max_feature_idx=9223372036854775807")
        #expect(Self.refusal(.lightgbmText, text: hugeIndex)?.contains("max_feature_idx") == true)
        let minChild = Self.settingFirstTreeValue(text, "left_child=", to: "-9223372036854775808")
        #expect(Self.refusal(.lightgbmText, text: minChild)?.contains("outside the tree") == true)
        let hugeCount = Self.editFirstTreeLine(text, prefix: "num_cat=") { _ in
            "num_cat=9223372036854775807\ncat_boundaries=0\ncat_threshold="
        }
        #expect(Self.refusal(.lightgbmText, text: hugeCount)?.contains("num_cat") == true)
        let oneSet = Self.editFirstTreeLine(text, prefix: "num_cat=") { _ in "num_cat=1\ncat_boundaries=0 1\ncat_threshold=1" }
        let hugeSplit = Self.settingFirstTreeValue(Self.settingFirstTreeValue(oneSet, "decision_type=", to: "1"), "threshold=", to: "1e300")
        #expect(Self.refusal(.lightgbmText, text: hugeSplit)?.contains("names categorical split") == true)
        let sqrt = text.replacingOccurrences(of: "objective=binary sigmoid:1", with: "objective=regression sqrt")
        #expect(Self.refusal(.lightgbmText, text: sqrt)?.contains("objective 'regression sqrt'") == true)

        // Every split of two trees made categorical on one set holding the largest category: a
        // 2 MiB bitset each, 100 MB from a few kilobytes of JSON.
        let bitsets = try Self.xgboostTreesRefusal { trees in
            for index in 0..<2 {
                let left = trees[index]["left_children"] as! [Int]
                let splits = left.indices.filter { left[$0] != -1 }
                var splitType = trees[index]["split_type"] as! [Int]
                for node in splits { splitType[node] = 1 }
                trees[index]["split_type"] = splitType
                trees[index]["categories_nodes"] = splits
                trees[index]["categories_segments"] = Array(0..<splits.count)
                trees[index]["categories_sizes"] = [Int](repeating: 1, count: splits.count)
                trees[index]["categories"] = [Int](repeating: XGBoostModel.maxCategory - 1, count: splits.count)
            }
        }
        #expect(bitsets?.contains("64 MiB") == true, "\(bitsets ?? "accepted")")

        // The best iteration is put in the refusal of an early-stopped model as a whole number.
        for value: Any in ["-inf", -1e19, "nan", 1.5] {
            let refusal = try Self.xgboostLearnerRefusal { learner in learner["attributes"] = ["best_iteration": value] }
            #expect(refusal?.contains("best_iteration is") == true, "best_iteration \(value): \(refusal ?? "accepted")")
        }
        for name in ["num_class", "num_target"] {
            let refusal = try Self.xgboostLearnerRefusal { learner in
                var params = learner["learner_model_param"] as! [String: Any]
                params[name] = "nan"
                learner["learner_model_param"] = params
            }
            #expect(refusal?.contains("\(name) = nan") == true, "\(name) nan: \(refusal ?? "accepted")")
        }

        let lgbObjectives = [
            ("binary", "objective 'binary'; supported"),
            ("binary sigmoid:abc", "objective 'binary sigmoid:abc' has a bad sigmoid"),
            ("binary sigmoid:0", "objective 'binary sigmoid:0' has a bad sigmoid"),
            ("binary sigmoid:2 sigmoid:3", "objective 'binary sigmoid:2 sigmoid:3'; supported"),
        ]
        for (objective, message) in lgbObjectives {
            let edited = text.replacingOccurrences(of: "objective=binary sigmoid:1", with: "objective=\(objective)")
            let refusal = Self.refusal(.lightgbmText, text: edited)
            #expect(refusal?.contains(message) == true, "\(objective): \(refusal ?? "accepted")")
        }
    }

    /// XGBoost writes a tree's categorical splits in node order, their segments one after the other
    /// and covering `categories`. Segments that overlap (a node listed a million times over one
    /// million-entry segment: a few MB of JSON, hours of copying), leftovers, or a listed node that
    /// is not a categorical split are refused.
    @Test func categoricalSplitsOutOfXGBoostsOrderAreRefused() throws {
        func refusal(nodes: [Int], segments: [Int], sizes: [Int], categories: [Int], numericNode: Bool = false) throws -> String? {
            try Self.xgboostRefusal { tree in
                let left = tree["left_children"] as! [Int]
                let splits = left.indices.filter { left[$0] != -1 }
                var splitType = tree["split_type"] as! [Int]
                for node in splits.prefix(2) { splitType[node] = 1 }
                if numericNode { splitType[splits[1]] = 0 }
                tree["split_type"] = splitType
                tree["categories_nodes"] = nodes.map { splits[$0] }
                tree["categories_segments"] = segments
                tree["categories_sizes"] = sizes
                tree["categories"] = categories
            }
        }
        #expect(try refusal(nodes: [0, 1], segments: [0, 1], sizes: [1, 2], categories: [3, 1, 4]) == nil)
        let repeated = try refusal(nodes: [0, 0, 1], segments: [0, 0, 0], sizes: [3, 3, 3], categories: [0, 0, 0])
        #expect(repeated?.contains("categorical split 1 is out of order or overlaps another") == true, "\(repeated ?? "accepted")")
        let overlapping = try refusal(nodes: [0, 1], segments: [0, 0], sizes: [2, 2], categories: [1, 2])
        #expect(overlapping?.contains("categorical split 1 is out of order or overlaps another") == true, "\(overlapping ?? "accepted")")
        let backwards = try refusal(nodes: [1, 0], segments: [0, 1], sizes: [1, 1], categories: [1, 2])
        #expect(backwards?.contains("categorical split 1 is out of order") == true, "\(backwards ?? "accepted")")
        let leftover = try refusal(nodes: [0, 1], segments: [0, 1], sizes: [1, 1], categories: [1, 2, 3])
        #expect(leftover?.contains("categories holds 1 entries no categorical split names") == true, "\(leftover ?? "accepted")")
        let empty = try refusal(nodes: [0, 1], segments: [0, 0], sizes: [0, 2], categories: [1, 2])
        #expect(empty?.contains("categorical split 0 has no categories") == true, "\(empty ?? "accepted")")
        let numeric = try refusal(nodes: [0, 1], segments: [0, 1], sizes: [1, 1], categories: [1, 2], numericNode: true)
        #expect(numeric?.contains("which is not a categorical split") == true, "\(numeric ?? "accepted")")
    }

    // MARK: Logistic JSON

    @Test func logisticMalformed() throws {
        let valid = #"{"format":"logistic","features":["a","b"],"coefficients":[1,2],"intercept":0.5}"#
        #expect(Self.refusal(.logistic, text: valid) == nil)
        #expect(Self.refusal(.logistic, text: #"{"format":"logistic","features":["a","b"],"coefficients":[1],"intercept":0}"#)?.contains("coefficients has 1 values for 2 features") == true)
        #expect(Self.refusal(.logistic, text: #"{"format":"logistic","features":["a"],"coefficients":[1],"intercept":0,"scaler":{"mean":[0],"scale":[0]}}"#)?.contains("scaler.scale[0] is zero") == true)
        #expect(Self.refusal(.logistic, text: #"{"format":"logistic","features":["a"],"coefficients":[1]}"#)?.contains("missing intercept") == true)
        #expect(Self.refusal(.logistic, text: #"{"format":"onnx"}"#)?.contains("format 'onnx'") == true)
        #expect(Self.refusal(.logistic, text: #"{"format":"logistic","features":["a","a"],"coefficients":[1,1],"intercept":0}"#)?.contains("repeats") == true)
    }

    /// A value far outside the training range overflows a linear model's arithmetic; where the score
    /// becomes NaN (opposite infinities, or infinity times a zero coefficient) the row is refused,
    /// naming the first feature at fault. An infinite margin alone saturates, as scikit-learn's does.
    @Test func logisticNamesTheFeatureWhoseValueOverflowsItsArithmetic() throws {
        let model = try ModelLoader.load(.logistic, from: Array(#"""
            {"format":"logistic","features":["a","b","c"],"coefficients":[1,-1,0],"intercept":0,
             "scaler":{"mean":[0,0,0],"scale":[0.5,0.5,0.5]}}
            """#.utf8))
        #expect(try model.checkedScore([1e308, 0, 0]) == 1)
        #expect(try model.checkedScore([0, 1e308, 0]) == 0)
        #expect(throws: UnscorableRow(feature: "a")) { try model.checkedScore([1e308, 1e308, 0]) }
        #expect(throws: UnscorableRow(feature: "c")) { try model.checkedScore([0, 0, 1e308]) }
        #expect(try model.checkedScore([0.25, 0.5, 7]) == model.score([0.25, 0.5, 7]))
    }

    @Test func logisticWithoutImputeRequiresEveryValue() throws {
        let model = try ModelLoader.load(.logistic, from: Array(#"{"format":"logistic","features":["a","b"],"coefficients":[1,2],"intercept":0.5}"#.utf8))
        #expect(!model.acceptsMissingValues)
        let expected = 1 / (1 + exp(-(0.5 + 1 * 0.25 + 2 * -1.0)))
        #expect(abs(model.score([0.25, -1.0]) - expected) < 1e-15)
    }
}
