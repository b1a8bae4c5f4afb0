import Foundation
@testable import ModelRuntime

/// The committed example artifacts in models/, made by models/train.py with the real libraries.
enum ExampleModels {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("models")

    struct Example {
        let name: String
        let folder: URL
        let format: ModelFormat
        let artifact: URL
        var goldenFiles: [URL] {
            ((try? FileManager.default.contentsOfDirectory(at: folder, includingPropertiesForKeys: nil)) ?? [])
                .filter { $0.lastPathComponent.hasPrefix("golden") && $0.pathExtension == "jsonl" }
                .sorted { $0.path < $1.path }
        }
    }

    /// Every folder under models/ (and models/compat/) that holds an artifact and golden rows.
    static var all: [Example] {
        var found: [Example] = []
        for parent in [root, root.appendingPathComponent("compat")] {
            let folders = (try? FileManager.default.contentsOfDirectory(at: parent, includingPropertiesForKeys: nil)) ?? []
            for folder in folders.sorted(by: { $0.path < $1.path }) {
                guard let example = example(at: folder) else { continue }
                found.append(example)
            }
        }
        return found
    }

    static func example(at folder: URL) -> Example? {
        let text = folder.appendingPathComponent("model.txt")
        let json = folder.appendingPathComponent("model.json")
        guard FileManager.default.fileExists(atPath: folder.appendingPathComponent("golden.jsonl").path) else { return nil }
        if FileManager.default.fileExists(atPath: text.path) {
            return Example(name: folder.lastPathComponent, folder: folder, format: .lightgbmText, artifact: text)
        }
        guard let data = FileManager.default.contents(atPath: json.path) else { return nil }
        let isLogistic = String(decoding: data.prefix(200), as: UTF8.self).contains("\"logistic\"")
        return Example(name: folder.lastPathComponent, folder: folder, format: isLogistic ? .logistic : .xgboostJSON, artifact: json)
    }

    static func named(_ name: String) throws -> Example {
        guard let example = all.first(where: { $0.name == name }) else { throw MissingExample(name: name) }
        return example
    }

    static func bytes(_ url: URL) throws -> [UInt8] { [UInt8](try Data(contentsOf: url)) }

    struct MissingExample: Error, CustomStringConvertible {
        let name: String
        var description: String { "models/\(name) is missing: run models/train.py" }
    }
}
