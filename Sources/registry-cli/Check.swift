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
                Prints a line per check and one per finding. Exits 0 when the registry is sound, 1 when \
                something is wrong with it, 2 when it could not be checked (missing, locked, unreadable). \
                Changes no row; like every registry-cli command it needs to write SQLite's WAL index \
                beside the file, so copy a read-only snapshot somewhere writable first.
                """)

        /// The exit status when the registry could not be checked, told apart from 1 (checked, and
        /// something is wrong) so that a restore script knows which it got.
        static let couldNotCheck: Int32 = 2

        @OptionGroup var options: GlobalOptions

        @Flag(help: "SQLite's quick_check instead of integrity_check: every page, but indexes are not matched to their tables (much faster on a large audit log).")
        var quick = false

        func run() throws {
            do {
                try conclude(try findProblems())
            } catch let error as CheckFailure {
                throw error
            } catch {
                FileHandle.standardError.write(Data("Error: \(error) (the registry was not checked)\n".utf8))
                throw ExitCode(Self.couldNotCheck)
            }
        }

        /// Every finding, printed as the checks go. A damaged page is a finding wherever it shows;
        /// any other failure throws.
        private func findProblems() throws -> [String] {
            let fileCheck = "file (\(quick ? "quick_check" : "integrity_check"), foreign_key_check)"
            let registry: Registry
            do {
                registry = try options.openRegistry(.read)
            } catch let error as RegistryError {
                // Damage in the pages read at open (the header, the schema, the migrations) stops here.
                guard let damage = Self.damage(error) else { throw error }
                report(fileCheck, [damage])
                return [damage]
            }
            var problems = try registry.fileProblems(quick: quick)
            report(fileCheck, problems)

            let versions: [ModelVersion]
            do {
                versions = try registry.versions()
            } catch let error as RegistryError {
                guard let damage = Self.damage(error) else { throw error }
                report("versions", [damage])
                return problems + [damage]
            }
            for version in versions {
                // The checks a version passes before it serves: digest, parse, schema, golden rows.
                let found: [String]
                do {
                    _ = try LoadedVersion(try registry.loadable(version))
                    found = []
                } catch let error as LoadError {
                    found = ["\(error)"]
                } catch let error as RegistryError {
                    guard let damage = Self.damage(error) else { throw error }
                    found = [damage]
                }
                report("\(version.model) \(version.label) (\(version.stage.rawValue))", found)
                problems += found
            }
            return problems
        }

        /// A failure that is itself a finding (the file is damaged), in words; nil for the others.
        private static func damage(_ error: RegistryError) -> String? {
            switch error {
            case .damaged(_, let detail): return "a damaged page stopped the reading: \(detail)"
            case .notADatabase: return "the file's header is not an SQLite database's: \(error)"
            default: return nil
            }
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
