import ArgumentParser
import Registry

extension RegistryCLI {
    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the versions of every model, or of one.")

        @OptionGroup var options: GlobalOptions

        @Option(help: "Only this model's versions.")
        var model: String?

        @Flag(help: "Print JSON instead of a table.")
        var json = false

        func run() throws {
            let registry = try options.openRegistry(.read)
            if let model { _ = try registry.resolveModel(model) }
            let versions = try registry.versions(model: model)
            if json {
                print(try JSONOutput.render(versions.map(VersionJSON.init)))
                return
            }
            var table = TextTable(headers: ["MODEL", "VERSION", "STAGE", "FORMAT", "THRESHOLD", "BYTES", "SHA256", "CREATED"])
            for version in versions {
                table.rows.append([
                    version.model, version.label.description + (version.isActive ? " *" : ""), version.stage.rawValue,
                    version.format.rawValue, version.threshold.tableText, "\(version.artifactSize)",
                    String(version.artifactSHA256.prefix(12)), version.createdAt,
                ])
            }
            print(table.render())
        }
    }
}
