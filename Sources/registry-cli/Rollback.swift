import ArgumentParser
import Registry

extension RegistryCLI {
    struct Rollback: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Return to the version that was active before the current one.",
            discussion: "With --gitops FILE, also pins that version in the Helm values file, as promote does.")

        @OptionGroup var options: GlobalOptions

        @Option(help: "The model (may be left out when the registry holds one).")
        var model: String?

        @Option(help: "Why, recorded in the promotion history.")
        var reason: String?

        @Option(help: ArgumentHelp("A Helm values file whose model.version to pin to the version rolled back to.", valueName: "values.yaml"))
        var gitops: String?

        func run() throws {
            let registry = try options.openRegistry(.write)
            let modelName = try registry.resolveModel(model)
            let file = try gitops.map { try GitOpsValuesFile(path: $0) }
            // Checked before the registry changes: the target is not known yet, but the file's shape is.
            _ = try file?.pinning(VersionLabel(1), model: modelName)
            let promotion = try registry.rollback(model: modelName, reason: reason, by: options.actorName)
            print("\(promotion.model): \(promotion.from?.description ?? "none") -> \(promotion.to) (rolled back)")
            if let file {
                try file.stage(try file.pinning(promotion.to, model: modelName)).commit()
                print("pinned \(modelName) \(promotion.to) in \(file.path): commit and push it to roll it out")
            }
        }
    }
}
