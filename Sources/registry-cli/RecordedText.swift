import ArgumentParser
import Foundation
import Serving

/// Text the registry keeps and prints in its tables (who, why, a version's description): present,
/// and one printable line (a line break would forge a row of `history` or a line of `show`).
enum RecordedText {
    static func check(_ value: String?, option: String) throws {
        guard let value else { return }
        guard !value.trimmingCharacters(in: .whitespaces).isEmpty else { throw ValidationError("\(option) must not be empty") }
        guard PrintableText.isPrintable(value) else {
            throw ValidationError("\(option) must be one line without control characters, format characters, characters drawn as nothing or line separators")
        }
    }
}
