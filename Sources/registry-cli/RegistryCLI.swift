import ArgumentParser
import Logging

@main
struct RegistryCLI: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "registry-cli",
        abstract: "Sentinel: a registry and scoring service for fraud models.",
        discussion: """
            The registry is one SQLite file (--db, or REGISTRY_DB, default ./registry.db) holding models, \
            their numbered versions (v1, v2, ...), metrics, promotion history and the prediction audit log.
            """,
        subcommands: [
            Init.self, Bootstrap.self, Register.self, List.self, Show.self, Promote.self, Rollback.self, Archive.self,
            History.self, Audit.self, Score.self, Serve.self,
        ]
    )
}
