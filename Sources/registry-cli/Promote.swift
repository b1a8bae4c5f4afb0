import ArgumentParser
import Registry

extension RegistryCLI {
    struct Promote: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Make a version the active one; a running service switches to it by hot reload.")

        @OptionGroup var options: GlobalOptions

        @Argument(help: "The version to activate, such as v3.")
        var version: String

        @Option(help: "The model (may be left out when the registry holds one).")
        var model: String?

        @Option(help: "Why, recorded in the promotion history.")
        var reason: String?

        func run() throws {
            let label = try VersionLabel(parsing: version)
            let promotion = try options.openRegistry(.write).promote(label, model: model, reason: reason, by: options.actorName)
            print("\(promotion.model): \(promotion.from?.description ?? "none") -> \(promotion.to) (active)")
        }
    }
}
