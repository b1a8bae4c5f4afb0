import ArgumentParser
import Registry

extension RegistryCLI {
    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one version: stage, artifact, metrics, features.")

        @OptionGroup var options: GlobalOptions

        @Argument(help: "The version, such as v3.")
        var version: String

        @Option(help: "The model (may be left out when the registry holds one).")
        var model: String?

        @Flag(help: "Print JSON instead of text.")
        var json = false

        func run() throws {
            let label = try VersionLabel(parsing: version)
            let registry = try options.openRegistry(.read)
            let found = try registry.version(label, model: registry.resolveModel(model))
            if json {
                print(try JSONOutput.render(VersionJSON(found)))
                return
            }
            var lines = [
                "model:        \(found.model)",
                "version:      \(found.label)",
                "stage:        \(found.stage.rawValue)\(found.activeSince.map { " (active since \($0))" } ?? "")",
                "format:       \(found.format.rawValue)",
                "threshold:    \(found.threshold)",
                "artifact:     \(found.artifactSize) bytes, sha256 \(found.artifactSHA256)",
                "created:      \(found.createdAt) by \(found.createdBy)",
            ]
            if let description = found.description { lines.append("description:  \(description)") }
            lines.append("metrics:")
            for (name, value) in found.metrics.sorted(by: { $0.key < $1.key }) { lines.append("  \(name) = \(value)") }
            lines.append("features (\(found.featureNames.count)): \(found.featureNames.joined(separator: ", "))")
            print(lines.joined(separator: "\n"))
        }
    }
}
