import ArgumentParser
import Registry

extension RegistryCLI {
    struct Rollback: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Return to the version that was active before the current one.")

        @OptionGroup var options: GlobalOptions

        @Option(help: "The model (may be left out when the registry holds one).")
        var model: String?

        @Option(help: "Why, recorded in the promotion history.")
        var reason: String?

        func run() throws {
            let promotion = try options.openRegistry(.write).rollback(model: model, reason: reason, by: options.actorName)
            print("\(promotion.model): \(promotion.from?.description ?? "none") -> \(promotion.to) (rolled back)")
        }
    }
}
