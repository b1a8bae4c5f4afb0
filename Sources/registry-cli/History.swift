import ArgumentParser
import Registry

extension RegistryCLI {
    struct History: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show the promotion history, oldest first.")

        @OptionGroup var options: GlobalOptions

        @Option(help: "Only this model's history.")
        var model: String?

        @Flag(help: "Print JSON instead of a table.")
        var json = false

        func run() throws {
            let history = try options.openRegistry(.read).history(model: model)
            if json {
                print(try JSONOutput.render(history.map(PromotionJSON.init)))
                return
            }
            var table = TextTable(headers: ["ID", "MODEL", "FROM", "TO", "ACTION", "AT", "BY", "REASON"])
            for entry in history {
                table.rows.append(["\(entry.id)", entry.model, entry.from?.description ?? "-", entry.to.description,
                                   entry.action.rawValue, entry.at, entry.by, entry.reason ?? ""])
            }
            print(table.render())
        }
    }
}
