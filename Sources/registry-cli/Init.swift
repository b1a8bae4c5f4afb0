import ArgumentParser
import Registry
import RegistrySchema

extension RegistryCLI {
    struct Init: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create the registry database, or bring its schema up to date. Safe to run again.")

        @OptionGroup var options: GlobalOptions

        func run() throws {
            _ = options.logger()
            let applied = try Registry.initialise(path: options.databasePath, busyTimeoutMilliseconds: options.busyTimeout)
            if applied.isEmpty {
                print("registry \(options.databasePath) is up to date (schema version \(RegistrySchema.latestVersion))")
            } else {
                for migration in applied { print("applied \(migration.name)") }
                print("registry \(options.databasePath) is at schema version \(RegistrySchema.latestVersion)")
            }
        }
    }
}
