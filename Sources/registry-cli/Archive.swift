import ArgumentParser
import Registry

extension RegistryCLI {
    struct Archive: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Retire a version for good: an archived version cannot be promoted.")

        @OptionGroup var options: GlobalOptions

        @Argument(help: "The version to archive, such as v1.")
        var version: String

        @Option(help: "The model (may be left out when the registry holds one).")
        var model: String?

        func run() throws {
            let label = try VersionLabel(parsing: version)
            let registry = try options.openRegistry(.write)
            let name = try registry.resolveModel(model)
            try registry.archive(label, model: name)
            print("\(name) \(label) archived")
        }
    }
}
