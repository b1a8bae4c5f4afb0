import Foundation
import Testing
@testable import ModelRuntime

/// The Swift evaluators reproduce each training library's own predictions, to 1e-6, on the golden
/// rows the libraries scored (missing values included).
struct ParityTests {
    static let required = [
        "fraud-logistic", "fraud-xgboost", "fraud-lightgbm", "fraud-xgboost-large", "fraud-lightgbm-large",
        "xgboost2-binary", "xgboost-reg-logistic", "xgboost-binary-logitraw", "xgboost-reg-squarederror", "lightgbm-regression",
        "xgboost-categories-by-value", "lightgbm-categories-by-value", "xgboost-pruned", "xgboost-constant-label",
    ]

    @Test func everyRequiredExampleIsPresent() {
        let names = Set(ExampleModels.all.map(\.name))
        for name in Self.required { #expect(names.contains(name), "models/\(name) is missing") }
    }

    @Test(arguments: ExampleModels.all.map(\.name))
    func matchesTheLibrary(_ name: String) throws {
        let example = try ExampleModels.named(name)
        let model = try ModelLoader.load(example.format, from: ExampleModels.bytes(example.artifact))
        #expect(model.featureNames.count >= 1)
        for file in example.goldenFiles {
            let golden = try GoldenSet(jsonLines: String(contentsOf: file, encoding: .utf8))
            let rowsWithMissing = golden.rows.filter { $0.features.values.contains { $0 == nil } }.count
            var largest = 0.0
            let builder = FeatureRowBuilder(featureNames: model.featureNames, acceptsMissingValues: true)
            for row in golden.rows {
                let score = model.score(try builder.row(from: row.features))
                largest = max(largest, abs(score - row.score))
            }
            print("parity \(name)/\(file.lastPathComponent): \(golden.rows.count) rows (\(rowsWithMissing) with missing values), max |Δ| = \(largest)")
            #expect(largest <= GoldenSet.tolerance, "\(name)/\(file.lastPathComponent): max difference \(largest)")
            #expect(golden.rows.count >= 20)
        }
    }

    /// The golden rows were scored by XGBoost on Linux x86-64 with glibc's expf: another libm may
    /// round an exponential an ulp apart on the rows chosen for it (golden_sigmoid.jsonl).
    #if os(Linux) && arch(x86_64)
    static let sigmoidUlps: Float = 0
    #else
    static let sigmoidUlps: Float = 1
    #endif

    /// XGBoost's probabilities are single-precision floats, and the evaluator computes them as
    /// XGBoost does, libm's expf included: the same float on every golden row, not just within 1e-6.
    @Test func xgboostProbabilitiesAreTheLibrarysToTheBit() throws {
        var rows = 0
        for example in ExampleModels.all where example.format == .xgboostJSON {
            let model = try #require(try ModelLoader.load(example.format, from: ExampleModels.bytes(example.artifact)) as? XGBoostModel)
            guard model.output == .probability else { continue }
            let builder = FeatureRowBuilder(featureNames: model.featureNames, acceptsMissingValues: true)
            for file in example.goldenFiles {
                let golden = try GoldenSet(jsonLines: String(contentsOf: file, encoding: .utf8))
                let differing = try golden.rows.filter { row in
                    let score = Float(model.score(try builder.row(from: row.features))), expected = Float(row.score)
                    return abs(score - expected) > Self.sigmoidUlps * expected.ulp || Double(expected) != row.score
                }.count
                #expect(differing == 0, "\(example.name)/\(file.lastPathComponent): \(differing) of \(golden.rows.count) rows differ")
                rows += golden.rows.count
            }
        }
        #expect(rows >= 800)
    }

    @Test func largeModelsHaveCategoricalSplitsAndScoreThem() throws {
        let xgb = try ExampleModels.named("fraud-xgboost-large")
        let xgbModel = try #require(try ModelLoader.load(.xgboostJSON, from: ExampleModels.bytes(xgb.artifact)) as? XGBoostModel)
        #expect(xgbModel.nodes.contains { $0.isCategorical }, "no categorical split in the large XGBoost model")
        let lgb = try ExampleModels.named("fraud-lightgbm-large")
        let lgbModel = try #require(try ModelLoader.load(.lightgbmText, from: ExampleModels.bytes(lgb.artifact)) as? LightGBMModel)
        #expect(lgbModel.nodes.contains { $0.isCategorical }, "no categorical split in the large LightGBM model")
        #expect(xgbModel.treeCount > 200 && lgbModel.treeCount > 150)
    }

    /// Trained on a DataFrame whose category column holds merchant category codes, both libraries
    /// keep the list and re-code through it; the evaluators do too (the golden rows above give the
    /// codes themselves, and one the model never saw, scored as missing). Categories 0..n-1, as
    /// the large XGBoost model's (trained on a DataFrame), are their own codes, but a value outside
    /// them is missing too: its golden_edge.jsonl gives -1, 3.7, 25, 3e9... scored by XGBoost on a
    /// DataFrame of that category type. The large LightGBM model was trained on codes (no list):
    /// its odd values follow LightGBM's rule for raw codes.
    @Test func categoriesGivenByValueAreRecoded() throws {
        for (name, format) in [("xgboost-categories-by-value", ModelFormat.xgboostJSON), ("lightgbm-categories-by-value", .lightgbmText),
                               ("fraud-xgboost-large", .xgboostJSON)] {
            let example = try ExampleModels.named(name)
            let model = try ModelLoader.load(format, from: ExampleModels.bytes(example.artifact))
            let codes = (model as? XGBoostModel)?.categoryCodes ?? (model as? LightGBMModel)?.categoryCodes
            #expect(codes?.features == [model.featureNames.firstIndex(of: "merchant_category")!], "\(name)")
        }
        let large = try ExampleModels.named("fraud-lightgbm-large")
        #expect((try ModelLoader.load(.lightgbmText, from: ExampleModels.bytes(large.artifact)) as? LightGBMModel)?.categoryCodes == nil)
    }

    /// A golden file saved on Windows (CRLF line ends) reads as the same rows: it was refused as
    /// "line 1 is not valid JSON", since Swift reads "\r\n" as one Character.
    @Test func goldenRowsWithCRLFLineEndsReadTheSame() throws {
        let example = try ExampleModels.named("fraud-logistic")
        let text = try String(contentsOf: example.goldenFiles[0], encoding: .utf8)
        let lf = try GoldenSet(jsonLines: text)
        let crlf = try GoldenSet(jsonLines: text.replacingOccurrences(of: "\n", with: "\r\n"))
        #expect(lf.rows.count >= 20 && crlf.rows.count == lf.rows.count)
        #expect(zip(lf.rows, crlf.rows).allSatisfy { $0.score == $1.score && $0.features == $1.features })
        #expect(throws: GoldenError.self) { try GoldenSet(jsonLines: "{\"score\": 0.5, \"features\": {}}\r\nnot json\r\n") }
    }

    @Test func goldenVerifyRefusesAScoreOffByMoreThanTheTolerance() throws {
        let example = try ExampleModels.named("fraud-xgboost")
        let model = try ModelLoader.load(.xgboostJSON, from: ExampleModels.bytes(example.artifact))
        let golden = try GoldenSet(jsonLines: String(contentsOf: example.goldenFiles[0], encoding: .utf8))
        #expect(try golden.verify(model) <= GoldenSet.tolerance)
        var rows = golden.rows
        rows[3] = GoldenSet.Row(features: rows[3].features, score: rows[3].score + 2e-6)
        #expect(throws: GoldenError.self) { try GoldenSet(rows: rows).verify(model) }
    }

    @Test func featureRowsAreStrictAndNameTheFeature() throws {
        let builder = FeatureRowBuilder(featureNames: ["amount", "hour"], acceptsMissingValues: false)
        #expect(try builder.row(from: ["amount": 1.5, "hour": 3]) == [1.5, 3])
        #expect(throws: FeatureError.missing("hour")) { try builder.row(from: ["amount": 1.5]) }
        #expect(throws: FeatureError.unknown("colour")) { try builder.row(from: ["amount": 1.5, "hour": 3, "colour": 1]) }
        #expect(throws: FeatureError.nullNotAccepted("hour")) { try builder.row(from: ["amount": 1.5, "hour": Double?.none]) }
        #expect(throws: FeatureError.outOfRange("amount")) { try builder.row(from: ["amount": .infinity, "hour": 1]) }
        #expect(throws: FeatureError.notNumeric("hour")) { try builder.row(from: ["amount": 1, "hour": .nan]) }
        let lenient = FeatureRowBuilder(featureNames: ["amount", "hour"], acceptsMissingValues: true)
        #expect(try lenient.row(from: ["amount": 1.5, "hour": Double?.none])[1].isNaN)
    }
}
