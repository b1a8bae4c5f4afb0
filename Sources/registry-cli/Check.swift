import ArgumentParser
import Foundation
import Registry
import Serving

extension RegistryCLI {
    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check the registry: every page of the file, every reference, and every version as serve would load it.",
            discussion: """
                For after a restore, a disk error, or before an audit. A damaged page does not stop the \
                registry from opening (only a query that reaches it fails), so init and serve cannot tell. \
                Prints one line per finding and exits 1 when there is any; reads only.
                """)

        @OptionGroup var options: GlobalOptions

        @Flag(help: "SQLite's quick_check instead of integrity_check: every page, but indexes are not matched to their tables (much faster on a large audit log).")
        var quick = false

        func run() throws {
            _ = options.logger()
            let registry = try options.openRegistry(.read)
            var problems: [String] = []
            do {
                problems += try registry.fileProblems(quick: quick)
            } catch {
                // A page damaged badly enough stops the walk itself.
                problems.append("the check stopped: \(error)")
            }
            report("file (\(quick ? "quick_check" : "integrity_check"), foreign_key_check)", problems)

            let versions: [ModelVersion]
            do {
                versions = try registry.versions()
            } catch {
                let unreadable = "the versions cannot be read: \(error)"
                report("versions", [unreadable])
                return try conclude(problems + [unreadable])
            }
            for version in versions {
                // The checks a version passes before it serves: digest, parse, schema, golden rows.
                let found: [String]
                do {
                    _ = try LoadedVersion(try registry.loadable(version))
                    found = []
                } catch {
                    found = ["\(error)"]
                }
                report("\(version.model) \(version.label) (\(version.stage.rawValue))", found)
                problems += found
            }
            try conclude(problems)
        }

        private func report(_ what: String, _ problems: [String]) {
            print(problems.isEmpty ? "ok       \(what)" : "PROBLEM  \(what)")
            for problem in problems { print("         \(problem)") }
        }

        private func conclude(_ problems: [String]) throws {
            guard problems.isEmpty else {
                throw CheckFailure(path: options.databasePath, problems: problems.count)
            }
        }
    }
}

struct CheckFailure: Error, CustomStringConvertible {
    let path: String
    let problems: Int
    var description: String { "registry \(path) has \(problems) problem\(problems == 1 ? "" : "s") (listed above)" }
}
