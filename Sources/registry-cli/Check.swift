import ArgumentParser
import Foundation
import Registry
import Serving

extension RegistryCLI {
    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check the registry: every page of the file, every reference, the schema against the migrations, values the columns' types let through, and every version as serve would load it.",
            discussion: """
                For after a restore, a disk error, or before an audit. A damaged page does not stop the \
                registry from opening (only a query that reaches it fails), so init and serve cannot tell. \
                Prints a line per check and one per finding. Exits 0 when the registry is sound, 1 when \
                something is wrong with it, 2 when it could not be checked (missing, locked, unreadable). \
                Changes no row, and leaves the file's journal mode as it is. Like every registry-cli \
                command it needs to write SQLite's WAL index beside a registry in WAL mode (copy a \
                read-only snapshot somewhere writable first).
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
                let reason = if case RegistryError.databaseNotFound(let path) = error { "no registry database at \(path)" } else { "\(error)" }
                FileHandle.standardError.write(Data("Error: \(reason); the registry was not checked\n".utf8))
                throw ExitCode(Self.couldNotCheck)
            }
        }

        /// Every finding, printed as the checks go. What stops a reading of the registry is a finding
        /// (a damaged page, a row the registry cannot read), unless it kept the registry from being
        /// read at all; that throws.
        private func findProblems() throws -> [String] {
            let fileCheck = "file (\(quick ? "quick_check" : "integrity_check"), foreign_key_check)"
            let registry: Registry
            do {
                // Often a restored copy: checked without a byte of it changing.
                registry = try options.openRegistry(.readUntouched)
            } catch let error as RegistryError {
                // Damage in the pages read at open (the header, the schema, the migrations) stops here.
                guard let damage = damageAtOpen(error) else { throw error }
                report(fileCheck, [damage])
                return [damage]
            }
            var problems = try registry.fileProblems(quick: quick)
            report(fileCheck, problems)
            // On a file with damaged pages these reads may fail too: that is a finding as well.
            let schema: [String]
            do { schema = try registry.schemaProblems() } catch { schema = [try Self.finding(error)] }
            report("schema (every table, index, trigger and view as the migrations make it)", schema)
            problems += schema
            let values: [String]
            do { values = try registry.valueProblems() } catch { values = [try Self.finding(error)] }
            report("values (metrics are numbers, production stages match the history)", values)
            problems += values

            let versions: [ModelVersion]
            do {
                versions = try registry.versions()
            } catch {
                let found = try Self.finding(error)
                report("versions", [found])
                return problems + [found]
            }
            for version in versions {
                // The checks a version passes before it serves: digest, parse, schema, golden rows.
                var found: [String] = []
                do {
                    _ = try LoadedVersion(try registry.loadable(version))
                } catch {
                    found = [try Self.finding(error)]
                }
                report("\(version.model) \(version.label) (\(version.stage.rawValue))", found)
                problems += found
            }
            return problems
        }

        /// A failure after the registry opened, as a finding; rethrown when it kept the registry from
        /// being read (a lock held too long, the file replaced or unreadable).
        private static func finding(_ error: any Error) throws -> String {
            switch error {
            case RegistryError.busy, RegistryError.fileReplaced, RegistryError.cannotOpen, RegistryError.readOnly, RegistryError.walFilesNotWritable:
                throw error
            case RegistryError.damaged(_, let detail):
                return "a damaged page stopped the reading: \(detail)"
            default:
                return "\(error)"
            }
        }

        /// A failure to open that is itself a finding: a damaged page, or a damaged header in a file
        /// that starts as an SQLite database does. A file that is not one at all was not checked.
        private func damageAtOpen(_ error: RegistryError) -> String? {
            switch error {
            case .damaged:
                return try? Self.finding(error)
            case .notADatabase:
                let magic = Array("SQLite format 3\0".utf8)
                let file = FileHandle(forReadingAtPath: options.databasePath)
                defer { try? file?.close() }
                let head = (try? file?.read(upToCount: magic.count)).flatMap { $0 }.map(Array.init)
                return head == magic ? "the file's header is damaged: SQLite does not read it as a database" : nil
            default:
                return nil
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
