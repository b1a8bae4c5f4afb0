import ArgumentParser
import Registry

extension RegistryCLI {
    struct Promote: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Make a version the active one; a running service switches to it by hot reload.",
            discussion: """
                With --gitops FILE, also pins the version in that Helm values file (its model.version line, \
                and model.sha256, the artifact's digest, which every replica checks its own vN against; \
                nothing else changes); committing the file is what ArgoCD rolls out to every replica.
                """)

        @OptionGroup var options: GlobalOptions

        @Argument(help: "The version to activate, such as v3.")
        var version: String

        @Option(help: "The model (may be left out when the registry holds one).")
        var model: String?

        @Option(help: "Why, recorded in the promotion history.")
        var reason: String?

        @Option(help: ArgumentHelp("A Helm values file whose model.version and model.sha256 to pin to this version.", valueName: "values.yaml"))
        var gitops: String?

        func validate() throws {
            try RecordedText.check(reason, option: "--reason")
        }

        func run() throws {
            let label = try VersionLabel(parsing: version)
            let actor = try options.recordedActor()
            let registry = try options.openRegistry(.write)
            let modelName = try registry.resolveModel(model)
            // Held until the file is replaced: another promote or rollback of this file waits.
            let lock = try gitops.map { try ValuesFileLock(path: $0) }
            defer { withExtendedLifetime(lock) {} }
            // The file is rewritten and staged before the registry changes, so a bad file changes nothing.
            let staged = try gitops.map { path throws in
                try GitOpsValuesFile(path: path).staging(label, of: modelName, in: registry)
            }
            do {
                let promotion = try registry.promote(label, model: modelName, reason: reason, by: actor)
                print("\(promotion.model): \(promotion.from?.description ?? "none") -> \(promotion.to) (active)")
            } catch RegistryError.alreadyActive where staged != nil {
                // Already active here: pinning it in Git is still what was asked.
                print("\(modelName): \(label) is already active")
            } catch {
                staged?.discard()
                throw error
            }
            if let staged {
                try staged.commit(active: "\(modelName) \(label)")
                print("pinned \(modelName) \(label) in \(staged.path): commit and push it to roll it out")
            }
        }
    }
}
