import ArgumentParser
import Foundation
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
            History.self, Audit.self, Score.self, Check.self, Serve.self,
        ]
    )

    /// ArgumentParser's own `main`, except that a refused command line gets one line on stderr (the
    /// message and where to look), not the usage block after it: scripts and people both read the
    /// first line, and the project's rule is one line per error.
    static func main() async {
        do {
            try refuseHelpOnAnUnknownSubcommand(Array(CommandLine.arguments.dropFirst()))
            var command = try parseAsRoot()
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch let exit as ExitCode {
            // A command that ends with an exit code has said what it had to say.
            Foundation.exit(exit.rawValue)
        } catch {
            let code = exitCode(for: error)
            guard code != .success else {
                // --help: the full text, on standard output.
                print(fullMessage(for: error))
                Foundation.exit(code.rawValue)
            }
            // Lines joined, not dropped: some messages carry their second half on a second line.
            let message = message(for: error).split(whereSeparator: \.isNewline)
                .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }.joined(separator: "; ")
            let hint = code == .validationFailure ? " (see --help)" : ""
            FileHandle.standardError.write(Data("Error: \(message)\(hint)\n".utf8))
            Foundation.exit(code.rawValue)
        }
    }

    /// ArgumentParser answers `help NAME` for a name it does not know with the root's help and a
    /// zero exit, so a mistyped `help promte` in a script looks like success.
    private static func refuseHelpOnAnUnknownSubcommand(_ arguments: [String]) throws {
        guard arguments.first == "help", let name = arguments.dropFirst().first, !name.hasPrefix("-") else { return }
        let known = configuration.subcommands.flatMap { [$0._commandName] + $0.configuration.aliases } + ["help"]
        guard known.contains(name) else {
            throw ValidationError("no subcommand is called '\(name)': one of \(known.joined(separator: ", "))")
        }
    }
}
