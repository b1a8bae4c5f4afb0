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

        @Option(help: ArgumentHelp("A Helm values file whose model.version and model.sha256 to pin to the version rolled back to.", valueName: "values.yaml"))
        var gitops: String?

        func validate() throws {
            try RecordedText.check(reason, option: "--reason")
        }

        /// The rollback's target comes from this registry's history, which is right for the file only
        /// if this registry made the pin it holds (a staging registry may have moved on): the version
        /// rolled back from must be the file's, artifact included.
        static func checkPin(in file: GitOpsValuesFile, isRolledBack rollback: Promotion, registry: Registry) throws {
            guard let pinned = file.pinnedVersion, let from = rollback.from else { return }
            if pinned != from.description {
                throw GitOpsError.pinNotActive(path: file.path, pinned: pinned, model: rollback.model, active: from.description)
            }
            // The same label, another artifact: the pin came from a registry whose labels differ.
            let active = try registry.version(from, model: rollback.model)
            if let digest = file.pinnedSHA256, digest != active.artifactSHA256 {
                throw GitOpsError.pinNotActive(path: file.path, pinned: "\(pinned) (sha256 \(digest))", model: rollback.model,
                                               active: "\(active.label) (sha256 \(active.artifactSHA256))")
            }
        }

        func run() throws {
            let actor = try options.recordedActor()
            let registry = try options.openRegistry(.write)
            let modelName = try registry.resolveModel(model)
            // Held until the file is replaced: another promote or rollback of this file waits.
            let lock = try gitops.map { try ValuesFileLock(path: $0) }
            defer { withExtendedLifetime(lock) {} }
            let file = try gitops.map { try GitOpsValuesFile(path: $0) }
            // The file is checked, rewritten and staged inside the rollback's transaction, once the
            // target is known and before it commits: a file that cannot be written changes nothing,
            // and a promote by another process between a check and the rollback cannot slip by it.
            var staged: StagedValuesFile?
            let promotion: Promotion
            do {
                promotion = try registry.rollback(model: modelName, reason: reason, by: actor) { rollback in
                    if let file { try Self.checkPin(in: file, isRolledBack: rollback, registry: registry) }
                    staged = try file?.staging(rollback.to, of: modelName, in: registry)
                }
            } catch {
                staged?.discard()
                throw error
            }
            print("\(promotion.model): \(promotion.from?.description ?? "none") -> \(promotion.to) (rolled back)")
            if let staged {
                try staged.commit(active: "\(modelName) \(promotion.to)")
                print("pinned \(modelName) \(promotion.to) in \(staged.path): commit and push it to roll it out")
            }
        }
    }
}
